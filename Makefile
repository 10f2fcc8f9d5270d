# The two commands: `make run` (Sift on the embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint format bench bench-scale clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(VENV)/.runtime $@

## Run Sift on 127.0.0.1:8000 with a worker (SQLite, server-less broker). Ctrl-C stops both.
run: $(VENV)/.runtime
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py load_demo
	DEBUG=1 PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho -f Procfile.dev start

## Lint, check migrations, run the whole test suite (DATABASE_URL / CELERY_BROKER_URL pick the services).
PYTEST_ARGS ?= -n 2
test: export SECRET_KEY ?= insecure-key-for-tests-only
test: $(VENV)/.dev lint
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Scale benchmark: retrain on 10,000 labels and rescore generated pools with 1 and 2 real workers.
## Needs PostgreSQL and Redis; empties the tables of its own database (bench_scale) before and after.
BENCH_SCALE_SIZES ?= 100000 1000000
bench-scale: $(VENV)/.runtime
	createdb -h 127.0.0.1 -U postgres bench_scale 2>/dev/null || true
	for size in $(BENCH_SCALE_SIZES); do \
		DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_scale \
		CELERY_BROKER_URL=redis://127.0.0.1:6379/11 SIFT_QUEUE=bench-scale \
		$(BIN)/python bench/scale.py --size $$size || exit 1; \
	done

clean:
	rm -rf $(VENV) var
