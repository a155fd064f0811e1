# Requests Desk. `make run` serves the demo desk; `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
SIZE ?= 100000
JOBS ?= auto

.PHONY: run test bench clean-db

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

run: $(VENV)/.installed
	$(FLASK) desk init
	$(FLASK) desk demo --if-empty
	@echo
	@echo "Requests Desk is at http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	$(FLASK) run --host $(HOST) --port $(PORT)

test: $(VENV)/.installed
	$(BIN)/python -m pytest -n $(JOBS)

bench: $(VENV)/.installed
	$(BIN)/python -m bench.run --size $(SIZE)

clean-db:
	rm -f instance/desk.sqlite instance/desk.sqlite-wal instance/desk.sqlite-shm
