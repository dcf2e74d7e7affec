# Two commands for a fresh machine: `make demo` and `make test`. Each makes .venv if it is
# missing and installs the project with the pinned versions in constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo up test lint format install clean bench

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The demo keeps its data (SQLite, outbox, reports) and Prefect's local state under var/;
# Prefect's own log lines are kept to warnings so that the story reads (runs still show in
# Prefect's local server while it runs).
demo: $(STAMP)
	@mkdir -p "$${PREFECT_HOME:-$(CURDIR)/var/prefect}"  # Prefect makes only the last level
	FOLLOWUP_DATA_DIR="$${FOLLOWUP_DATA_DIR:-$(CURDIR)/var/demo}" \
	PREFECT_HOME="$${PREFECT_HOME:-$(CURDIR)/var/prefect}" \
	PREFECT_LOGGING_LEVEL="$${PREFECT_LOGGING_LEVEL:-WARNING}" \
	PREFECT_SERVER_ANALYTICS_ENABLED=false \
	$(BIN)/followup demo

# Everything on this machine for real: the Prefect server and UI (port 4200), every deployment
# with its schedule, and the reply web app (port 8000). Data under var/up/.
up: $(STAMP)
	FOLLOWUP_DATA_DIR="$${FOLLOWUP_DATA_DIR:-$(CURDIR)/var/up}" $(BIN)/followup db upgrade
	FOLLOWUP_DATA_DIR="$${FOLLOWUP_DATA_DIR:-$(CURDIR)/var/up}" $(BIN)/followup up

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var .pytest_cache
