# edgeloop: `make run` and `make test` set everything up from nothing (a .venv with pinned deps).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
ARGS   ?=

.PHONY: setup run test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade "pip==26.3"
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

## run: the paper engine on the built-in simulator (SQLite at var/edgeloop.db); ARGS="run.duration=2h sim.speed=max"
run: setup
	$(BIN)/edgeloop $(ARGS)

## test: every test (unit, integration on PostgreSQL, end-to-end)
test: setup
	$(BIN)/pytest $(ARGS)

## lint: ruff and the import contracts (the core stays pure)
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

## bench: the benchmarks under bench/ (each prints ratios against a reference)
bench: setup
	$(BIN)/python bench/pricing.py
	$(BIN)/python bench/decision.py
	$(BIN)/python bench/loop.py
	$(BIN)/python bench/settings_reload.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
