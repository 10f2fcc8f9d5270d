# The two commands: `make run` (Sift on the embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint format bench-labels bench-scale bench-next bench-smalltext bench-serving bench-browse bench-calibration clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(VENV)/.runtime $@

## Run Sift on 127.0.0.1:8000 or SIFT_PORT (SQLite, server-less broker) with its workers and beat.
## `make run SIFT_PORT=8080` or `SIFT_PORT=8080 make run` serve another port. Ctrl-C stops them all.
run: export SIFT_PORT ?= 8000
run: export DEBUG = 1
run: $(VENV)/.runtime .env.dev
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	PATH="$(abspath $(BIN)):$$PATH" $(HONCHO) -f Procfile.dev -e /dev/null start || [ $$? -eq 130 ]

# `-e /dev/null`: honcho would read `.env`, docker-compose's file; the settings read .env.dev
# themselves. Ctrl-C is how `make run` ends, so honcho's 130 after it is no error (make still
# notes "Interrupt" when the terminal's Ctrl-C reaches make too, as it always does).
# honcho SIGKILLs what still runs 5 s after the first process stopped, but an idle worker's warm
# shutdown on the filesystem broker took 11 s on a busy 2-core machine, and a busy worker ends
# its task first. That wait is a module constant with no option, hence the wrapper.
STOP_SECONDS ?= 20
HONCHO = $(BIN)/python -c 'import sys, honcho.command as c, honcho.manager as m; \
	m.KILL_WAIT = float(sys.argv.pop(1)); sys.argv[0] = "honcho"; c.main()' $(STOP_SECONDS)

# A generated SECRET_KEY, written once and never overwritten, that config/settings.py reads, so
# that the manage.py commands typed beside `make run` work. Not `.env`, which docker-compose
# reads for its own ${SECRET_KEY}; DEBUG stays out of it (only `make run` turns DEBUG on).
.env.dev:
	umask 077 && $(PYTHON) -c 'import secrets; print("SECRET_KEY=" + secrets.token_urlsafe(50))' > $@.tmp
	mv $@.tmp $@

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

## Import benchmark (bench/import_scale.py): a generated 1,000,000-row CSV uploaded to gunicorn and
## imported by a real Celery worker (PostgreSQL bench_import, emptied first; Redis db 3); also the
## 200 MB and 100,000-column files. Writes bench/results/import-<rows>.json.
BENCH_IMPORT_ROWS ?= 1000000
.PHONY: bench-import
bench-import: $(VENV)/.runtime
	createdb -h 127.0.0.1 -U postgres bench_import 2>/dev/null || true
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_import \
	CELERY_BROKER_URL=redis://127.0.0.1:6379/3 \
	$(BIN)/python bench/import_scale.py --rows $(BENCH_IMPORT_ROWS) --hostile

## 16 annotators, /next + annotate at 1,000,000 items, without and with planner statistics, two
## gunicorn layouts (bench/scale_next.py). It drops and recreates its own database, bench_next.
bench-next: $(VENV)/.runtime
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_next CELERY_BROKER_URL=redis://127.0.0.1:6379/11 \
	$(BIN)/python bench/scale_next.py --size 1000000

## Serving benchmark: the prediction API against calling the model directly (banking77, 77 labels).
## Needs PostgreSQL; empties the tables of its own database (bench_serving) before and after.
bench-serving: $(VENV)/.runtime
	createdb -h 127.0.0.1 -U postgres bench_serving 2>/dev/null || true
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_serving $(BIN)/python bench/serving.py

## small-text's strategies on Sift's split and model, in their own venv (long: hours on banking77).
## BENCH_SEEDS / BENCH_STRATEGIES narrow a run; finished runs are kept and skipped on a rerun.
ST_VENV := bench/.venv-smalltext
BENCH_SEEDS ?= 0,1,2
BENCH_STRATEGIES ?= random,breaking_ties,entropy,least_confidence,contrastive,discriminative
# DiscriminativeActiveLearning refits a discriminator 5 times a round on up to the whole pool: binary set only.
BENCH77_STRATEGIES ?= random,breaking_ties,entropy,least_confidence,contrastive
ST_RUN := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 nice -n 10 $(ST_VENV)/bin/python bench/smalltext_compare.py

$(ST_VENV)/bin/python:
	$(PYTHON) -m venv $(ST_VENV)

$(ST_VENV)/.installed: bench/smalltext/requirements.txt | $(ST_VENV)/bin/python
	$(ST_VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/smalltext/requirements.txt
	touch $@

bench-smalltext: $(ST_VENV)/.installed
	$(ST_VENV)/bin/python bench/make_datasets.py
	$(ST_RUN) banking77-security --batch 20 --budget 1500 --seeds $(BENCH_SEEDS) --strategies $(BENCH_STRATEGIES)
	$(ST_RUN) banking77 --batch 100 --budget 5000 --seeds $(BENCH_SEEDS) --strategies $(BENCH77_STRATEGIES)

## Sift's label efficiency: the simulator on banking77 (77 intents), a binary imbalanced
## set made from it (3 security intents, about 3% positive), 3 seeds, and rare10 (below). Long: hours on 2 cores.
## Each group of strategies writes bench/results/labels-<dataset>-<group>/ when it ends.
LABEL_GROUPS ?= random,margin mix error,novelty adaptive entropy,least_confidence
## banking77-rare10: 10 intents, one of them 1% of the pool (the cold start's test), 5 seeds.
RARE_GROUPS ?= random,margin,mix,adaptive error_margin
SIMULATE := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 DEBUG=1 nice -n 10 $(BIN)/python manage.py simulate
bench-labels: $(VENV)/.runtime
	$(BIN)/python bench/make_datasets.py
	for group in $(LABEL_GROUPS); do \
		$(SIMULATE) bench/data/banking77-security/pool.csv --test-file bench/data/banking77-security/test.csv \
			--strategies $$group --seeds 3 --batch 20 --budget 1500 \
			--out bench/results/labels-security-$$(echo $$group | tr , _) || exit 1; \
	done
	for group in $(LABEL_GROUPS); do \
		$(SIMULATE) bench/data/banking77/pool.csv --test-file bench/data/banking77/test.csv \
			--strategies $$group --seeds 3 --batch 100 --budget 5000 \
			--out bench/results/labels-banking77-$$(echo $$group | tr , _) || exit 1; \
	done
	for group in $(RARE_GROUPS); do \
		$(SIMULATE) bench/data/banking77-rare10/pool.csv --test-file bench/data/banking77-rare10/test.csv \
			--strategies $$group --seeds 5 --batch 10 --budget 400 \
			--out bench/results/labels-rare10-$$(echo $$group | tr , _) || exit 1; \
	done
	$(BIN)/python bench/labels_report.py --budget 400 bench/results/labels-rare10-*/summary.csv
	$(BIN)/python bench/labels_report.py --budget 1500 bench/results/labels-security-*/summary.csv
	$(BIN)/python bench/labels_report.py --budget 5000 bench/results/labels-banking77-*/summary.csv

## Calibration's effect on label efficiency (issue 15): plain margin on the security set (about 3%
## of the pool positive), 5 seeds, with the sigmoid calibration and without it
## (simulate --uncalibrated), then the paired report. About 3 minutes.
CALIB_RUN := $(SIMULATE) bench/data/banking77-security/pool.csv --test-file bench/data/banking77-security/test.csv \
	--strategies margin --seeds 5 --batch 50 --budget 1000
bench-calibration: $(VENV)/.runtime
	$(BIN)/python bench/make_datasets.py
	$(CALIB_RUN) --out bench/results/calibration-security-calibrated
	$(CALIB_RUN) --uncalibrated --out bench/results/calibration-security-uncalibrated
	$(BIN)/python bench/labels_report.py --budget 1000 bench/results/calibration-security-*/summary.csv

clean:
	rm -rf $(VENV) var

## Fault benchmark (bench/faults.py): gunicorn with 4 workers, a Celery worker, beat, a
## redis-server of its own (port 6390) and a PostgreSQL cluster of its own (sift-faults on
## port 5440: created, restarted 3 s under load, dropped at the end); writes
## bench/results/faults.{json,md}. BENCH_FAULTS_ARGS=--quick: 8 annotators x 60 s.
BENCH_FAULTS_PG ?= sift-faults
BENCH_FAULTS_PG_PORT ?= 5440
BENCH_FAULTS_ARGS ?=
.PHONY: bench-faults
bench-faults: $(VENV)/.runtime
	pg_version=$$(ls /etc/postgresql | tail -1); \
	pg_lsclusters -h | grep -q " $(BENCH_FAULTS_PG) " || \
		pg_createcluster $$pg_version $(BENCH_FAULTS_PG) -p $(BENCH_FAULTS_PG_PORT) >/dev/null; \
	sed -i 's|^host\( *all *all *127.0.0.1/32 *\)[a-z0-9-]*$$|host\1trust|' \
		/etc/postgresql/$$pg_version/$(BENCH_FAULTS_PG)/pg_hba.conf; \
	pg_ctlcluster --skip-systemctl-redirect $$pg_version $(BENCH_FAULTS_PG) restart; \
	createdb -h 127.0.0.1 -p $(BENCH_FAULTS_PG_PORT) -U postgres bench_faults 2>/dev/null; \
	DATABASE_URL=postgres://postgres@127.0.0.1:$(BENCH_FAULTS_PG_PORT)/bench_faults \
	CELERY_BROKER_URL=redis://127.0.0.1:6390/0 \
		$(BIN)/python bench/faults.py --pg-cluster $$pg_version/$(BENCH_FAULTS_PG) $(BENCH_FAULTS_ARGS); \
	status=$$?; pg_dropcluster --stop $$pg_version $(BENCH_FAULTS_PG); exit $$status

## Items-browser benchmark at 1,000,000 items / 50,000 labels (PostgreSQL): pages, search,
## "more like this", a bulk label of 10,000 items. Empties its own database (bench_browse).
BENCH_BROWSE_SIZE ?= 1000000
bench-browse: $(VENV)/.runtime
	createdb -h 127.0.0.1 -U postgres bench_browse 2>/dev/null || true
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_browse \
		$(BIN)/python bench/browse.py --size $(BENCH_BROWSE_SIZE) --labels 50000
