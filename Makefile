# Two commands set everything up: `make demo` and `make test`.
# Each creates the virtualenv in .venv (once) and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

SEMANTIC_VENV ?= .venv-semantic
# The semantic ranking extra needs torch; pin a CPU build (on this machine pip finds a local
# CPU wheel of 2.13.0; elsewhere point pip at https://download.pytorch.org/whl/cpu).
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo web test test-semantic lint clean venv bench-delivery bench-cli

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/digest demo

# The subscription site on http://localhost:8000/ (every link in the demo emails points here).
web: $(STAMP)
	$(BIN)/digest web

# System packages for the browser and SpamAssassin tests (installed when missing and root;
# a failure here only makes those tests skip, or fail under DIGEST_REQUIRE_SERVICES=1).
test: $(STAMP)
	-scripts/install-system-deps
	$(BIN)/ruff check .
	$(BIN)/pytest

# The ranking tests again with the semantic extra installed, in a venv of its own so that
# `make test` keeps testing the default, light install.
$(SEMANTIC_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(SEMANTIC_VENV)
	$(SEMANTIC_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SEMANTIC_VENV)/bin/python -m pip install --quiet '$(TORCH_SPEC)'
	$(SEMANTIC_VENV)/bin/python -m pip install --quiet -e '.[dev,semantic]'
	touch $@

test-semantic: $(SEMANTIC_VENV)/.installed
	DIGEST_REQUIRE_SEMANTIC=1 $(SEMANTIC_VENV)/bin/pytest tests/rank tests/pipeline/test_run_end_to_end.py

# One edition to 100,000 readers on Celery + Redis + PostgreSQL into Postfix's smtp-sink,
# with smtp-source's ceiling (needs: apt-get install postfix; PostgreSQL and Redis running).
# BENCH_ARGS="--readers 10000 --mode both --profile" to change it.
bench-delivery: $(STAMP)
	$(BIN)/python benchmarks/delivery.py $(BENCH_ARGS)

# Whole `digest` commands (--help, subscribers list, ingest jsonl of 20,000 papers) beside
# `python -c pass`. BENCH_ARGS="--runs 15 --pg postgresql://postgres@127.0.0.1/postgres".
bench-cli: $(STAMP)
	$(BIN)/python benchmarks/cli_start.py --ingest $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(SEMANTIC_VENV) var .pytest_cache test-artifacts
