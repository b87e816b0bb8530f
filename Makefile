# The two commands of the README's Quick start: `make up` and `make test`.
# Both create the local virtualenv .venv on first use and install into it.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
NPM    ?= npm
CHROMIUM ?= /usr/bin/chromium
# apt-get needs root: CI runs as root, elsewhere sudo asks.
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: up lint test bench soak clean debian-tools

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The web client's libraries (autobahn-js, uPlot) and the browser tests'
# driver (playwright-core), as pinned in package-lock.json; web/build.mjs
# copies the libraries into sisock/web/vendor/, which the router serves
# (package data: build it before `pip install .` or `pip wheel .`).
node_modules/.installed: package.json package-lock.json
	@command -v $(NPM) >/dev/null || { echo "make: $(NPM) not found: install Node.js and npm for the web client" >&2; exit 1; }
	$(NPM) ci --no-audit --no-fund
	touch $@

sisock/web/vendor/.built: node_modules/.installed web/build.mjs
	node web/build.mjs
	touch $@

# Debian's chromium (tests/test_web.py and the panels' browser tests) and docker-compose
# (tests/test_docker.py validates the compose file with it), installed only when missing.
DEBIAN_TOOLS = chromium:$(CHROMIUM) docker-compose:/usr/bin/docker-compose
debian-tools:
	@missing=""; for pair in $(DEBIAN_TOOLS); do test -x "$${pair#*:}" || missing="$$missing $${pair%%:*}"; done; \
	if [ -n "$$missing" ]; then echo "make: installing$$missing with apt-get"; \
	  $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; fi

up: $(BIN)/.installed sisock/web/vendor/.built  ## start router, hub, nodes, bridge and web client
	$(BIN)/sisock up

# schemathesis (API fuzzing of the bridge in the tests) lives in a venv of
# its own: its dependencies conflict with crossbar's pinned ones.
SCHEMATHESIS = .venv-schemathesis/bin/schemathesis
$(SCHEMATHESIS):
	$(PYTHON) -m venv .venv-schemathesis
	.venv-schemathesis/bin/python -m pip install --quiet 'schemathesis>=4.0'

lint: $(BIN)/.installed  ## ruff (lint and import order) and mypy (the public API)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint $(BIN)/.installed $(SCHEMATHESIS) sisock/web/vendor/.built debian-tools  ## lint, then the test suite against real processes
	$(BIN)/pytest

bench: $(BIN)/.installed  ## run the benchmarks on a router of their own; prints a table
	$(BIN)/python -m bench

soak: $(BIN)/.installed  ## load and soak (5 minutes, loopback): a table; exit 0 only if every criterion is met
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .venv-schemathesis .sisock *.egg-info node_modules sisock/web/vendor test-artifacts
