# motiongpt2 — all set-up happens here; a fresh clone needs only `make demo` / `make test`.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= $(or $(MOTIONGPT2_SHARED),../shared/data)
CACHE ?= $(HOME)/.cache/motiongpt2

.PHONY: venv install dev demo test bench examples clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

demo: install
	$(BIN)/motiongpt2 demo --shared $(SHARED) --out demo_out

test: dev
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/prepare.py --shared $(SHARED)

clean:
	rm -rf $(VENV) demo_out .pytest_cache

examples: install
	$(BIN)/python scripts/render_examples.py
