# Two commands set everything up: `make demo` and `make test`.
# Each creates the virtualenv in .venv (once) and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: demo test lint clean venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/digest demo

# System packages for the browser and SpamAssassin tests (installed when missing and root;
# a failure here only makes those tests skip, or fail under DIGEST_REQUIRE_SERVICES=1).
test: $(STAMP)
	-scripts/install-system-deps
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) var .pytest_cache
