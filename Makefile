# refurb: `make run` (set up, migrate, demo data, serve) and `make test` (set up, lint, the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A pinned torch: on this project's CI machines it is a CPU build from local disk; elsewhere pip fetches it.
TORCH ?= torch==2.13.0
PIP := $(BIN)/pip -qq --disable-pip-version-check
# The PostgreSQL pass of `make test`; the test database (test_<name>) is created and dropped by the suite.
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/refurb
# The suite runs in random order (pytest-randomly); each pass prints its seed, and TEST_SEED=N repeats an order.
ifeq ($(origin TEST_SEED), undefined)
TEST_SEED := $(shell od -An -N3 -tu4 /dev/urandom | tr -d ' ')
endif
export TEST_SEED  # one seed for every pass of one `make test` (each sub-make would draw its own)
PYTEST = $(BIN)/pytest -q -p no:cacheprovider -p randomly --randomly-seed=$(TEST_SEED)
HOST ?= 127.0.0.1
PORT ?= 8000
# Where this host has no NVIDIA GPU, `make run` seats the demo lot's NVIDIA cards in simulated slots, with these
# faults dealt in turn (one per card, in intake order: the burnt-smelling 3090 runs hot); its AMD cards are listed
# as not testable on this bench.
DEMO_FAULTS ?= healthy,vram_stuck_bit,compute_sdc,healthy,pcie_degraded,thermal_runaway,mining_vbios,healthy,fan_failed,healthy

.PHONY: install system-libs run test test-sqlite test-postgres test-postgres-db test-workers lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install "$(TORCH)"
	$(PIP) install -e ".[bench,dev]"
	touch $(STAMP)

install: $(STAMP) system-libs

# Pango and HarfBuzz's subsetter for certificate PDFs, Chromium for the browser tests: installed where apt-get can
# be run, else named once.
system-libs:
	@scripts/system_libs.sh $(BIN)/python

run: install
	$(BIN)/python manage.py migrate --no-input -v0
	$(BIN)/python manage.py load_catalog
	$(BIN)/python manage.py demo_setup
	@# Exit status 1 means some cards failed their tests, as the demo's faulty cards must; anything else stops here.
	$(BIN)/python manage.py bench run --or-simulate 12 --lot DEMO-001 --faults $(DEMO_FAULTS) || [ $$? -eq 1 ]
	$(BIN)/python manage.py demo_inspect
	$(BIN)/python manage.py grade --all-tested
	@# Certificates for the cards that passed; each line ends with the URL its QR code opens.
	REFURB_PUBLIC_URL=http://$(HOST):$(PORT) $(BIN)/python manage.py certify --all-graded
	@# The certified cards on the storefront (a matched set where the stock allows), one sold, one returned.
	REFURB_PUBLIC_URL=http://$(HOST):$(PORT) $(BIN)/python manage.py demo_resale
	@echo "\nrefurb is serving on http://$(HOST):$(PORT)/  (store: /store/, admin: /admin/, dashboard: /admin/dashboard/, API: /api/, API docs: /api/docs/)"
	DEBUG=1 REFURB_PUBLIC_URL=http://$(HOST):$(PORT) $(BIN)/python manage.py runserver $(HOST):$(PORT)

lint: install
	$(BIN)/ruff check .

# The SQLite and PostgreSQL passes run side by side (each is one pytest process on its own database, so together
# they use both cores of a 2-core CI machine); their output is shown whole, one pass after the other, as each ends.
# Then the tests that start bench worker processes (celery_workers), alone, since they time heartbeats and cancels.
# The GPU suite (tests/gpu, marker gpu) needs a CUDA card: scripts/gpu_check.sh runs it; here it is deselected.
test: install lint
	@echo "== the suite on SQLite and on PostgreSQL, side by side (output when each pass ends) =="
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres-db
	@$(MAKE) --no-print-directory test-workers

test-sqlite: install
	@echo "== test suite on SQLite, random order seed $(TEST_SEED) (celery_workers: in the PostgreSQL pass) =="
	env -u DATABASE_URL $(PYTEST) -m "not celery_workers and not gpu"

# On PostgreSQL when it is reachable; under CI a missing PostgreSQL fails the run instead of skipping it.
# Tests marked database_independent (the device layer and the checks) ran in the SQLite pass already.
# The celery_workers tests run against PostgreSQL, the services production uses; they pass on SQLite too
# (`pytest -m celery_workers`), at two more minutes.
PG_PASS = if $(BIN)/python scripts/db_ready.py "$(TEST_POSTGRES_URL)"; then \
		echo "== $(1) on PostgreSQL, random order seed $(TEST_SEED) =="; \
		DATABASE_URL="$(TEST_POSTGRES_URL)" $(PYTEST) -m "$(2)"; \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL is not reachable at $(TEST_POSTGRES_URL) and CI is set: failing"; exit 1; \
	else \
		echo "!! PostgreSQL not reachable at $(TEST_POSTGRES_URL): $(1) was NOT run on it"; \
	fi

test-postgres: install test-postgres-db test-workers

test-postgres-db: install
	@$(call PG_PASS,the test suite,not database_independent and not celery_workers and not gpu and not browser)

test-workers: install
	@$(call PG_PASS,the bench-worker tests (celery_workers),celery_workers)

clean:
	rm -rf $(VENV) var/test-refurb.sqlite3* .pytest_cache .ruff_cache
