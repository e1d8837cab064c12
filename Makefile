# Two commands matter: `make run` (the product with demo data) and `make test` (the suite).
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 5000
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi:app

.PHONY: run test lint format bench bench-region install install-dev migrate seed scheduler hl7-listener clean diagrams

# -- set-up (idempotent: stamps re-run an install only when its inputs change) ------------
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed node_modules/.installed
install-dev: $(VENV)/.installed-dev node_modules/.installed

migrate: install
	$(BIN)/flask db upgrade

seed: migrate
	$(BIN)/flask mdt seed-demo --for-welcome

# -- the product (make run PORT=5055 HOST=0.0.0.0 to serve elsewhere) -------------------
run: seed
	@$(BIN)/flask mdt welcome --host $(HOST) --port $(PORT)
	@export MDT_BASE_URL=$${MDT_BASE_URL:-http://$(HOST):$(PORT)}; \
	$(BIN)/flask mdt scheduler & SCHED=$$!; \
	trap "kill $$SCHED 2>/dev/null" EXIT INT TERM; \
	$(BIN)/flask run --host $(HOST) --port $(PORT)

scheduler: migrate
	$(BIN)/flask mdt scheduler

hl7-listener: migrate
	$(BIN)/flask mdt hl7-listener --host $${HL7_HOST:-127.0.0.1} --port $${HL7_PORT:-2575}

# -- quality ----------------------------------------------------------------------------
test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) node_modules instance/mdt.sqlite3

# Pictures in docs/pathway.md, drawn from the BPMN by bpmn-js (needs chromium).
diagrams: install-dev
	$(BIN)/python scripts/render_diagrams.py
	$(BIN)/python scripts/pathway_tables.py

# Benchmarks: results in docs/performance.md and artifacts/bench/results.json.
bench: install-dev
	$(BIN)/python -m mdt.benchmarks $(if $(BIG),--big,) $(if $(SMALL),--small,)

# A region on one PostgreSQL (3 app hosts, 2 schedulers, the HL7 listener), one host and one
# scheduler killed mid-run; results in docs/performance.md and artifacts/bench/region.json.
bench-region: install-dev
	$(BIN)/python -m mdt.benchmarks.region $(if $(SMALL),--small,)
