# `make run` and `make test` each work from a fresh clone: they build .venv first if it is missing.
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(0 if (3,11) <= sys.version_info[:2] <= (3,12) else 1)' 2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench screenshots clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "amflow needs Python 3.11 or 3.12 (durable-rules does not build on 3.13)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/amflow db upgrade
	$(BIN)/amflow demo
	$(BIN)/amflow serve

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/lifecycle.py

screenshots: $(STAMP)
	AMFLOW_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser -q

clean:
	rm -rf $(VENV) instance build *.egg-info
