# Reach: `make demo` serves the demo, `make test` runs every check. Both build their own .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two workers: the machines have two cores, and half the suite waits on servers it started.
PYTEST_ARGS ?= -n 2
# The official SDK is tested at three lines: the pinned 2025.1 build (a dev dependency) and the
# newest builds of these. They share one distribution name, so each goes into its own folder
# under $(SDK_DIR), which the conformance tests put on their path (module names differ).
SDK_LINES := 2026.7.0.261026 2027.1.0.261026
SDK_DIR := $(VENV)/sdk

.PHONY: demo test lint typecheck migrations-check pytest bench install dev clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# What the demo uses: the core and lookalike models (the lean core has none: README, Install).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[lookalike]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml Makefile | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -rf $(SDK_DIR)
	for line in $(SDK_LINES); do \
	  $(BIN)/pip install --quiet --no-deps --target $(SDK_DIR)/$$line \
	    criteo-api-marketingsolutions-sdk==$$line || exit 1; \
	done
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/reach demo

test: dev lint typecheck migrations-check pytest

lint: dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec compose.yaml
	@# The console's scripts are ES modules served as they are: each must parse.
	@for script in src/reach/console/static/*.js; do \
	  node --experimental-default-type=module --check "$$script" || exit 1; \
	done

typecheck: dev
	$(BIN)/mypy

# The models and the migrations must describe the same schema.
migrations-check: dev
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	REACH_DATA_DIR="$$tmp" REACH_DATABASE_URL= $(BIN)/alembic upgrade head && \
	REACH_DATA_DIR="$$tmp" REACH_DATABASE_URL= $(BIN)/alembic check

pytest: dev browser
	$(BIN)/pytest $(PYTEST_ARGS)

# The console's browser tests: Playwright drives Debian's Chromium (it cannot download a browser
# here), and axe-core, from npm, checks each page's accessibility.
browser: node_modules/.installed
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get install -y -q chromium >/dev/null; } || \
	  echo "Chromium is missing (apt-get install chromium): the browser tests will be skipped"

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

bench: dev
	$(BIN)/python benchmarks/api.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache node_modules test-artefacts
