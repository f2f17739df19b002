# `make run` and `make test` each work from a fresh clone: they build .venv first if it is missing, installing
# exactly the versions in requirements.lock (with their hashes). `make lock` refreshes the lock after a change
# to pyproject.toml's dependencies (tests/unit/test_lock.py fails until it is refreshed).
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(0 if (3,11) <= sys.version_info[:2] <= (3,12) else 1)' 2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
STAMP := $(VENV)/.installed
PIP_TOOLS := pip-tools==7.6.2

WEB_STAMP := web/node_modules/.installed

.PHONY: run test test-sqlite test-postgresql system-packages web-tools lint lock bench screenshots clean

$(STAMP): pyproject.toml $(LOCK)
	@test -n "$(PYTHON)" || { echo "amflow needs Python 3.11 or 3.12 (durable-rules does not build on 3.13)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/amflow db upgrade
	$(BIN)/amflow demo
	$(BIN)/amflow serve

# ruff, mypy, then every test twice: on SQLite files and on a throw-away PostgreSQL server (tests/postgres.py).
test: $(STAMP) system-packages web-tools
	$(BIN)/ruff check .
	$(BIN)/mypy
	@echo "== amflow: the suite on SQLite =="
	$(BIN)/python -m pytest --database=sqlite
	@echo "== amflow: the suite on PostgreSQL =="
	$(BIN)/python -m pytest --database=postgresql

test-sqlite: $(STAMP) system-packages web-tools
	$(BIN)/python -m pytest --database=sqlite

test-postgresql: $(STAMP) system-packages web-tools
	$(BIN)/python -m pytest --database=postgresql

# Chromium, its fonts and the PostgreSQL server: apt-get as root, otherwise the exact command is printed.
system-packages:
	scripts/install-system-packages

# bpmnlint (the modeler's advice, and the test that the shipped diagrams get none) at the versions locked in
# web/package-lock.json; without node and npm the tests that need it are skipped and the command is printed.
web-tools:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(WEB_STAMP); \
	else echo "node and npm are missing: the bpmnlint tests will be skipped (as root: apt-get install -y nodejs npm)"; fi

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --ignore-scripts
	touch $(WEB_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

lock: $(STAMP)
	$(BIN)/python -m pip install --quiet '$(PIP_TOOLS)'
	$(BIN)/pip-compile --quiet --all-build-deps --extra test --extra postgresql --generate-hashes --allow-unsafe \
	    --strip-extras --no-emit-index-url --no-emit-find-links --output-file $(LOCK) pyproject.toml

bench: $(STAMP)
	$(BIN)/python bench/lifecycle.py

screenshots: $(STAMP) system-packages
	AMFLOW_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser -q

clean:
	rm -rf $(VENV) instance build *.egg-info web/node_modules
