"""The explorer's web app: one static page at ``/`` and a JSON API under ``/api`` (FastAPI).

The API is documented by its OpenAPI schema (``/openapi.json``). Handlers are plain functions, so the
framework runs them in its threadpool; the models they call each run under their own lock
(:mod:`keytokens.server.models`). Every error is JSON ``{"detail": "..."}``: bad input gets a 4xx with a
clear message, and an unexpected failure a 500 that says only where to look (the server log),
never a traceback.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi import HTTPException as FastAPIHTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from keytokens._version import __version__
from keytokens.errors import KeytokensError, MissingDependencyError, ModelNotAvailableError, UnknownNameError
from keytokens.server import schemas
from keytokens.server.explorer import Explorer

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
#: ``Host`` names (port stripped) a browser sends to a server bound to 127.0.0.1.
LOOPBACK_HOSTS = ["127.0.0.1", "localhost"]
#: The page loads only its own files.
PAGE_POLICY = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
_ERRORS = {
    400: {"model": schemas.ErrorResponse, "description": "bad input"},
    404: {"model": schemas.ErrorResponse, "description": "unknown preset or index"},
    413: {"model": schemas.ErrorResponse, "description": "request body too large"},
    422: {"model": schemas.ErrorResponse, "description": "request outside the limits or of the wrong shape"},
    503: {"model": schemas.ErrorResponse, "description": "model not available on this machine"},
}


def status_for(exc: Exception) -> int:
    """HTTP status of a library error: unknown names 404, unavailable models 503, other bad input 400."""
    if isinstance(exc, UnknownNameError):
        return 404
    if isinstance(exc, ModelNotAvailableError | MissingDependencyError):
        return 503
    return 400


def validation_message(errors: list[dict]) -> tuple[int, str]:
    """One readable line (and a status) for pydantic's validation errors; malformed JSON is a 400."""
    for e in errors:
        if e.get("type") == "json_invalid":
            where = e["loc"][-1] if len(e.get("loc", ())) > 1 else "?"
            return 400, f"malformed JSON: {e.get('ctx', {}).get('error', 'cannot be parsed')} at character {where}"
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        kind, msg = e.get("type", ""), str(e.get("msg", "invalid")).removeprefix("Value error, ")
        if not loc and kind in ("model_attributes_type", "dict_type", "model_type"):
            msg = "the request body must be a JSON object (send Content-Type: application/json)"
        elif kind == "missing":
            msg = "required field missing"
        elif kind == "extra_forbidden":
            msg = "unknown field"
        parts.append(f"{loc}: {msg}" if loc else msg)
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return 422, "; ".join(parts) + more


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413, by header and while reading (ASGI middleware)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        """Answer 413 for an oversized body; pass everything else on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.max_bytes:
            response = JSONResponse({"detail": self._message()}, status_code=413)
            await response(scope, receive, send)
            return
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:  # a chunked body with no length: FastAPI re-raises this as is
                raise FastAPIHTTPException(413, self._message())
            return message

        await self.app(scope, limited, send)

    def _message(self) -> str:
        return f"request body larger than {self.max_bytes} bytes"


class SecurityHeaders:
    """Adds ``nosniff``, ``no-referrer`` and, except on the API docs, :data:`PAGE_POLICY` (ASGI middleware)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        """Pass the request on; add the headers to its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
        if not scope["path"].startswith(("/docs", "/redoc", "/openapi")):
            extra.append((b"content-security-policy", PAGE_POLICY.encode()))

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = validation_message(list(exc.errors()))
        return JSONResponse({"detail": message}, status_code=status)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    async def _library(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))

    app.add_exception_handler(KeytokensError, _library)
    app.add_exception_handler(ValueError, _library)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)


def _install_api(app: FastAPI, explorer: Explorer) -> None:
    @app.get("/api/health", response_model=schemas.Health, tags=["meta"])
    def health() -> dict:
        """The server is up."""
        return {"status": "ok", "version": __version__}

    @app.get("/api/presets", response_model=schemas.PresetsResponse, tags=["tokens"])
    def presets() -> dict:
        """The presets this server was started with, their instructions, and the request limits."""
        return {"presets": explorer.presets(), "limits": schemas.Limits().model_dump()}

    @app.get(
        "/api/presets/{name}/spectrum", response_model=schemas.SpectrumResponse, responses=_ERRORS, tags=["tokens"]
    )
    def spectrum(name: str) -> dict:
        """A backbone's first component u1 and the λ range for h + λ u1 (loads the model)."""
        return explorer.spectrum(name)

    @app.post("/api/tokens", response_model=schemas.TokensResponse, responses=_ERRORS, tags=["tokens"])
    def tokens(request: schemas.TokensRequest) -> dict:
        """Each text's top-k aligned tokens with their scores."""
        settings = request.model_dump(exclude={"texts", "preset"})
        return explorer.read(request.preset, request.texts, **settings).to_dict()

    @app.post("/api/compare", response_model=schemas.CompareResponse, responses=_ERRORS, tags=["tokens"])
    def compare(request: schemas.CompareRequest) -> dict:
        """Two texts: cosine similarity, and their shared and distinct aligned tokens."""
        settings = request.model_dump(exclude={"texts", "preset"})
        return {"preset": request.preset, **explorer.compare(request.preset, *request.texts, **settings).to_dict()}

    @app.get("/api/indexes", response_model=schemas.IndexesResponse, tags=["search"])
    def indexes() -> dict:
        """The indexes this server was started with."""
        return {"indexes": explorer.index_summaries()}

    @app.post("/api/search", response_model=schemas.SearchResponse, responses=_ERRORS, tags=["search"])
    def search(request: schemas.SearchRequest) -> dict:
        """The k best documents of a query and, for each, the tokens that matched and what each contributed."""
        return explorer.search(request.index, request.query, k=request.k, explain=request.explain)


def create_app(
    explorer: Explorer, *, allowed_hosts: list[str] | None = None, max_body_bytes: int = schemas.MAX_BODY_BYTES
) -> FastAPI:
    """The explorer app.

    Args:
        explorer: the operations, over the presets and indexes named at start-up.
        allowed_hosts: ``Host`` headers to accept (guards a loopback server against DNS rebinding);
            ``None`` accepts any.
        max_body_bytes: larger request bodies get 413.
    """
    app = FastAPI(
        title="keytokens explorer",
        version=__version__,
        description="Read text embeddings as the vocabulary tokens they align with (arXiv 2406.17378).",
    )
    _install_errors(app)
    _install_api(app, explorer)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    return app


__all__ = ["LOOPBACK_HOSTS", "BodyLimit", "SecurityHeaders", "create_app", "status_for", "validation_message"]
