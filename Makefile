# Requests Desk. `make run` serves the demo desk; `make test` runs the whole suite;
# `make screenshots` photographs the demo desk into docs/screenshots/.
#
# Any Python 3.11 or newer builds .venv: $(PYTHON) when given (make run PYTHON=python3.12),
# otherwise the first of PYTHON_CANDIDATES on PATH that is 3.11 or newer (the machine's
# python3 first). The search runs only when .venv has to be created.
PYTHON ?=
PYTHON_CANDIDATES := python3 python3.11 python3.12 python3.13
PYTHON_OK := -c 'import sys; sys.exit(sys.version_info < (3, 11))'
PYTHON_FOUND = $(firstword $(foreach p,$(PYTHON_CANDIDATES),$(shell command -v $(p) >/dev/null 2>&1 && $(p) $(PYTHON_OK) >/dev/null 2>&1 && echo $(p))))
VENV_PYTHON = $(if $(strip $(PYTHON)),$(PYTHON),$(PYTHON_FOUND))
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
SIZE ?= 100000
JOBS ?= auto
# Links in the feed and in e-mails point at the port the demo is served on, unless
# DESK_BASE_URL is set (0.0.0.0 or :: listen everywhere; a browser reaches 127.0.0.1).
LINK_HOST = $(if $(filter 0.0.0.0 :: [::],$(HOST)),127.0.0.1,$(HOST))

.PHONY: run test bench clean-db screenshots

$(BIN)/python:
	@py='$(VENV_PYTHON)'; \
	if [ -z "$$py" ]; then echo "Python 3.11 or newer is needed and none of $(PYTHON_CANDIDATES) on PATH is one: install one, or set PYTHON=/path/to/python3.x" >&2; exit 1; fi; \
	"$$py" $(PYTHON_OK) >/dev/null 2>&1 || { echo "Python 3.11 or newer is needed: PYTHON=$$py is not found or is older" >&2; exit 1; }; \
	echo "$$py -m venv $(VENV)"; "$$py" -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

run: export DESK_BASE_URL := $(or $(DESK_BASE_URL),http://$(LINK_HOST):$(PORT))
run: $(VENV)/.installed
	$(FLASK) desk init
	$(FLASK) desk demo --if-empty
	@echo
	@echo "Requests Desk is at http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	@echo "(demo: DESK_STAFF_2FA=optional, so a demo user signs in with the password alone; production keeps it required)"
	@echo "(customer notices: a dispatcher runs beside the server every 30 s and writes them to instance/outbox/*.eml; its log is instance/dispatch.log)"
	@$(FLASK) desk dispatch --every 30 >> instance/dispatch.log & dispatcher=$$!; \
	trap 'kill $$dispatcher 2>/dev/null' EXIT INT TERM; \
	DESK_STAFF_2FA=optional $(FLASK) run --host $(HOST) --port $(PORT)

test: $(VENV)/.installed
	$(BIN)/python -m pytest -n $(JOBS)

screenshots: $(VENV)/.installed
	$(BIN)/python scripts/screenshots.py

bench: $(VENV)/.installed
	$(BIN)/python -m bench.run --size $(SIZE)

clean-db:
	rm -f instance/desk.sqlite instance/desk.sqlite-wal instance/desk.sqlite-shm
	rm -rf instance/uploads instance/outbox instance/dispatch.log
