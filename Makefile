# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint fuzz soak bench setup clean

# feeds/_book.c is compiled by the install: editing it reinstalls.
$(STAMP): pyproject.toml feeds/_book.c feeds/_lane.c feeds/_book.h
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# `make run` serves the dashboard on WEB (its URL is printed at start-up); `make run WEB=` for
# none. ARGS naming --serve or --web, or the emulator alone, choose for themselves.
WEB ?= 127.0.0.1:8080
WEB_ARGS = $(if $(WEB),$(if $(or $(filter emulate,$(firstword $(ARGS))),$(findstring --serve,$(ARGS)),$(findstring --web,$(ARGS))),,--web $(WEB)))

run: $(STAMP)
	$(PY) run.py $(ARGS) $(WEB_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy arbscan scanner feeds emulator tests benchmarks run.py

# The compiled book's and lane's own tests run first under CPython's debug allocator and dev
# mode, so a memory error in feeds/_book.c or feeds/_lane.c fails loudly instead of passing
# by luck.
test: lint
	PYTHONMALLOC=debug $(PY) -X dev -m pytest -q tests/test_book.py tests/test_checksum.py \
		tests/test_lane.py -k 'not recorded and not replays and not emulated'
	$(VENV)/bin/pytest -n 2

# Every fuzz test (codecs, capture reader, config loader, event server input...) with at
# least 10,000 cases each: a dedicated run, not part of `make test`.
fuzz: $(STAMP)
	ARBSCAN_FUZZ_CASES=10000 $(VENV)/bin/pytest -q -k fuzz

# The emulated scan for 10 minutes with a fault every 30 s, RSS sampled every 10 s: a table
# and a verdict (not part of `make test`; `make soak ARGS=--minutes=1` for a short one).
soak: $(STAMP)
	$(PY) -m benchmarks.soak $(ARGS)

# The peers (cryptofeed, ccxt.pro) go into their own environment, never into .venv.
BENCH_VENV  := .bench-venv
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): pyproject.toml feeds/_book.c feeds/_lane.c feeds/_book.h
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m benchmarks $(ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VENV) .mypy_cache .ruff_cache .hypothesis feeds/*.so
