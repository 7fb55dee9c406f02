# aboguard: `make run` and `make test` are all a new machine needs (Python 3.11+).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DATA   ?= ./data

.PHONY: install run test check lint imports unit bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; sys.exit("aboguard needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	ABOGUARD_DATA_DIR=$(DATA) $(BIN)/aboguard demo
	$(BIN)/aboguard simulate --customers 100 --months 4 --policy both

lint: install
	$(BIN)/ruff check src tests bench

imports: install
	$(BIN)/lint-imports

check: lint imports

test: check
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/billing_periods.py
	$(BIN)/python bench/billing_run.py --subscriptions 100000 --db sqlite
	$(BIN)/python bench/sepa_files.py --collections 100000

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache .ruff_cache .import_linter_cache
