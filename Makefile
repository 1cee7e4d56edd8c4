# The README's commands. Everything installs into .venv from this repository's own files.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: install demo test lint bench bench-full campaign server serve clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --quiet --disable-pip-version-check -e ".[dev]"
	# bytecode now, as pip compiles the packages it installs: a command's first run (or every run
	# under PYTHONDONTWRITEBYTECODE) would otherwise compile the sources it imports, 0.06 s of status
	$(BIN)/python -m compileall -q rendezvous flows tasks > /dev/null
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/rendezvous demo

# the suite on two processes (one file's tests stay together, the files with slow tests first; the 25 slowest
# listed), then what must run alone; variants marked extended are make campaign's. The PostgreSQL tests use the
# server RENDEZVOUS_TEST_POSTGRES names, else start one (tests/pg_schemas.py)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder -m "not serial and not extended" --durations=25
	$(BIN)/pytest -m serial

lint: $(STAMP)
	$(BIN)/ruff check .

server: $(STAMP)
	$(BIN)/rendezvous server

BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --quiet --disable-pip-version-check -e ".[dev,bench]"
	touch $(BENCH_STAMP)

# speed and memory against a bare pandas + scikit-learn script (BENCH_ARGS="--repeats 5" etc.)
bench: $(BENCH_STAMP)
	cd benchmarks && ../$(BIN)/python bench.py $(BENCH_ARGS)

bench-full: $(BENCH_STAMP)
	cd benchmarks && ../$(BIN)/python bench.py --ten-million $(BENCH_ARGS)

# the reliability campaigns at full count (CI runs them with small counts), and the extended variants
campaign: $(STAMP)
	RENDEZVOUS_CAMPAIGN_KILLS=60 RENDEZVOUS_PROMOTION_KILLS=20 RENDEZVOUS_RACE_ROUNDS=10 \
	RENDEZVOUS_HYPOTHESIS_EXAMPLES=100 $(BIN)/pytest -s tests/campaigns tests/hostile
	$(BIN)/pytest -m extended --ignore=tests/campaigns --ignore=tests/hostile

clean:
	rm -rf var .pytest_cache
