"""Progress of long work, off unless asked for: a bar on a terminal, periodic lines elsewhere.

On a terminal it is a transient rich progress bar on stderr. When stderr is not a terminal (a log
file, CI, ``2>log``) a bar would print nothing useful, so a line is written every
:data:`LINE_EVERY_S` seconds and at the end: units done, rate and time left.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

#: Seconds between two progress lines when stderr is not a terminal (``KEYTOKENS_PROGRESS_EVERY`` overrides).
LINE_EVERY_S = 30.0


def track(
    items: Iterable[T],
    *,
    total: int,
    description: str,
    enabled: bool,
    unit: str = "",
    sizes: Sequence[int] | None = None,
) -> Iterator[T]:
    """Yield ``items``, showing progress on stderr when ``enabled``.

    Args:
        items: what to iterate over.
        total: number of items.
        description: what is being done (``encoding (minilm)``).
        enabled: show anything at all.
        unit: what the lines count (``documents``); items when empty.
        sizes: units per item (texts per chunk), so lines count units rather than items.
    """
    if not enabled:
        yield from items
        return
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield from _lines(items, total, description, unit, sizes, console.print)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)


def _lines(
    items: Iterable[T],
    total: int,
    description: str,
    unit: str,
    sizes: Sequence[int] | None,
    write: Callable[..., None],
) -> Iterator[T]:
    every = float(os.environ.get("KEYTOKENS_PROGRESS_EVERY", LINE_EVERY_S))
    units_total = sum(sizes) if sizes is not None else total
    start = last = time.perf_counter()
    done = 0
    for i, item in enumerate(items):
        yield item
        done += sizes[i] if sizes is not None else 1
        now = time.perf_counter()
        if now - last >= every or done >= units_total:
            write(progress_line(description, done, units_total, now - start, unit or "items"), highlight=False)
            last = now


def progress_line(description: str, done: int, total: int, seconds: float, unit: str) -> str:
    """``encoding (minilm): 512/5,183 documents (10%), 35.2/s, about 2 min 13 s left``."""
    rate = done / seconds if seconds > 0 else float("inf")
    line = f"{description}: {done:,}/{total:,} {unit} ({done / max(total, 1):.0%}), {rate:,.1f}/s"
    if done < total and 0 < rate < float("inf"):
        line += f", about {_duration((total - done) / rate)} left"
    elif done >= total:
        line += f", done in {_duration(seconds)}"
    return line


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
