# Two commands for a new user: `make run` and `make test`. Everything else is for developers.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Django 6 needs Python 3.12 or newer: take the first such interpreter on this machine.
PYTHON ?= $(shell for p in python3.13 python3.12 python3 $$(ls -d /root/.pyenv/versions/3.1[2-9]*/bin/python3 2>/dev/null) $$(ls -d $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 2>/dev/null); do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then echo $$p; break; fi; done)

.PHONY: run test install lint bench bench-statewide bench-console clean vendor

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
	@echo "Serving on http://127.0.0.1:8000, with the background worker beside it  (Ctrl-C stops both)"
	@# The worker runs in the background of this one shell; the trap stops it when Daphne ends.
	DEBUG=1 $(PY) manage.py db_worker --no-reload & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	DEBUG=1 $(VENV)/bin/daphne -b 127.0.0.1 -p 8000 config.asgi:application

# The whole suite on two workers (pytest-xdist); the browser tests come last on each worker
# (tests/conftest.py), shared between the two.
test: install
	$(PY) -m pytest -q -n 2 --dist load --durations=15

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

bench: install
	$(PY) bench/push_latency.py

# 20 programs, 4,000 tablets over 4 Daphne processes on PostgreSQL and Redis: idle cost, a steady
# rate and a burst, against the floor (bench/README.md). About 10 minutes.
bench-statewide: install
	$(PY) bench/statewide.py

# The dispatcher console with 50 and 200 open calls and 30 units: render time and one live update.
bench-console: install
	$(PY) bench/console.py

clean:
	rm -rf $(VENV) db.sqlite3* .test-db.sqlite3* staticfiles

# Browser libraries, committed under static/vendor/NAME-VERSION/ (no CDN); `make vendor` fetches the
# pinned releases again from the npm registry and rewrites those folders exactly as committed.
LEAFLET_VERSION := 1.9.4
AXE_CORE_VERSION := 4.14.1
NPM_REGISTRY := https://registry.npmjs.org/
VENDOR := static/vendor

# $(call npm_unpack,NAME,VERSION,DIR): NAME@VERSION's tarball unpacked into DIR/NAME, refused unless
# its sha512 is the integrity the registry publishes for that version.
define npm_unpack
	want=$$(npm view --registry=$(NPM_REGISTRY) $(1)@$(2) dist.integrity | sed 's/^sha512-//' \
		| base64 -d | od -An -v -tx1 | tr -d ' \n'); \
	tarball=$$(cd $(3) && npm pack --silent --registry=$(NPM_REGISTRY) $(1)@$(2)); \
	got=$$(sha512sum $(3)/$$tarball | cut -d' ' -f1); \
	if [ -z "$$want" ] || [ "$$got" != "$$want" ]; then \
		echo "$(1)@$(2): the tarball's sha512 is not the registry's integrity" >&2; exit 1; fi; \
	mkdir -p $(3)/$(1); tar -xzf $(3)/$$tarball -C $(3)/$(1) --strip-components=1
endef

# Only the files a page loads, and their licences (axe-core bundles MIT code whose notices must
# travel with it). Leaflet's source map is not shipped, so its reference is cut too: collectstatic's
# manifest storage refuses a reference to a file that is not there.
vendor:
	@set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(call npm_unpack,leaflet,$(LEAFLET_VERSION),$$tmp); \
	$(call npm_unpack,axe-core,$(AXE_CORE_VERSION),$$tmp); \
	rm -rf $(VENDOR)/leaflet-* $(VENDOR)/axe-core-*; \
	dest=$(VENDOR)/leaflet-$(LEAFLET_VERSION); mkdir -p $$dest/images; \
	cp $$tmp/leaflet/LICENSE $$tmp/leaflet/dist/leaflet.css $$dest/; \
	cp $$tmp/leaflet/dist/images/*.png $$dest/images/; \
	grep -v '^//# sourceMappingURL=' $$tmp/leaflet/dist/leaflet.js > $$dest/leaflet.js; \
	dest=$(VENDOR)/axe-core-$(AXE_CORE_VERSION); mkdir -p $$dest; \
	cp $$tmp/axe-core/axe.min.js $$tmp/axe-core/LICENSE $$tmp/axe-core/LICENSE-3RD-PARTY.txt $$dest/; \
	echo "Vendored leaflet $(LEAFLET_VERSION) and axe-core $(AXE_CORE_VERSION) under $(VENDOR)/"
