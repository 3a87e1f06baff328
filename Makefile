# ModelDesk: `make run` serves the product, `make test` passes the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

## run: install, migrate, seed the demo data, create the admin user, serve on 127.0.0.1:8000
run: $(STAMP) .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py ensure_admin
	$(BIN)/uvicorn configsite.asgi:application --host $(HOST) --port $(PORT) --lifespan off

# A development .env (DEBUG=true: dev-only SECRET_KEY and encryption key), written once, never overwritten.
.env:
	printf '# Written by make run for local development; see .env.example.\nDEBUG=true\n' > .env

## test: install, then lint, Django checks and the whole test suite
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## bench: benchmarks (fake upstream, ours, LiteLLM side by side) -> BENCHMARKS.md; BENCH_QUICK=1 for ~2 min
bench: $(STAMP)
	$(BIN)/python bench/run.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var/db.sqlite3
