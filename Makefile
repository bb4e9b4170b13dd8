# Two commands for a new user: `make run` and `make test`. Everything else is for developers.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Django 6 needs Python 3.12 or newer: take the first such interpreter on this machine.
PYTHON ?= $(shell for p in python3.13 python3.12 python3 $$(ls -d /root/.pyenv/versions/3.1[2-9]*/bin/python3 2>/dev/null) $$(ls -d $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 2>/dev/null); do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then echo $$p; break; fi; done)

.PHONY: run test install lint bench clean

$(VENV)/.installed: pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.12 or newer is needed (Django 6). Install it, or set PYTHON=/path/to/python3.12."; exit 1; fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet '.[dev]'
	@touch $@

install: $(VENV)/.installed

run: install
	DEBUG=1 $(PY) manage.py migrate --no-input -v 0
	DEBUG=1 $(PY) manage.py collectstatic --no-input -v 0
	DEBUG=1 $(PY) manage.py load_demo
	@echo ""
	@echo "Serving on http://127.0.0.1:8000  (Ctrl-C to stop)"
	DEBUG=1 $(VENV)/bin/daphne -b 127.0.0.1 -p 8000 config.asgi:application

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

bench: install
	$(PY) bench/push_latency.py

clean:
	rm -rf $(VENV) db.sqlite3* .test-db.sqlite3* staticfiles
