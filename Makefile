# edgeloop: `make run` and `make test` set everything up from nothing (a .venv with pinned deps).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
ARGS   ?=
TEST_WORKERS ?= 2
DB     ?=
UI_PORT ?= 8501
# The dashboard listens on this machine only; UI_ADDRESS=0.0.0.0 exposes it to the network.
UI_ADDRESS ?= 127.0.0.1
UI     := $(BIN)/streamlit run ui/app.py --server.address $(UI_ADDRESS) --server.port $(UI_PORT)

.PHONY: setup run ui test lint bench params clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade "pip==26.3"
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

## run: the paper engine on the built-in simulator (SQLite at var/edgeloop.db); ARGS="run.duration=2h sim.speed=max"
## and the dashboard at http://localhost:8501 (UI_PORT), in the background, stopped with the engine
run: setup
	@mkdir -p var
	@$(UI) $(if $(DB),-- --db $(DB)) > var/ui.log 2>&1 & ui=$$!; \
	trap 'kill $$ui 2>/dev/null' EXIT INT TERM; \
	echo "edgeloop: dashboard at http://localhost:$(UI_PORT) (log: var/ui.log)"; \
	$(BIN)/edgeloop $(ARGS) $(if $(DB),db.url=$(DB))

## ui: the dashboard alone, on DB (default: $EDGELOOP_DB_URL, else var/edgeloop.db): make ui DB=sqlite:///var/x.db
## (on 127.0.0.1 only; make ui UI_ADDRESS=0.0.0.0 to reach it from other machines)
ui: setup
	$(UI) $(if $(DB),-- --db $(DB))

## test: every test (unit, integration on PostgreSQL, end-to-end), on TEST_WORKERS processes
## (pytest-xdist; one test file stays on one worker); make test TEST_WORKERS=0 runs them in one
test: setup
	$(BIN)/pytest $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile) $(ARGS)

## lint: ruff and the import contracts (the core stays pure)
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

## params: regenerate settings_service/params.yaml from the components' tunable declarations
params: setup
	$(BIN)/python -m engine.tunables

## bench: the benchmarks under bench/ (each prints ratios against a reference)
bench: setup
	$(BIN)/python bench/pricing.py
	$(BIN)/python bench/decision.py
	$(BIN)/python bench/loop.py
	$(BIN)/python bench/settings_reload.py
	$(BIN)/python bench/memory.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
