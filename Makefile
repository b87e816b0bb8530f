# The two commands of the README's Quick start: `make up` and `make test`.
# Both create the local virtualenv .venv on first use and install into it.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: up test bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

up: $(BIN)/.installed  ## start router, hub, nodes, bridge and web client
	$(BIN)/sisock up

test: $(BIN)/.installed  ## run the test suite against real processes
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .sisock *.egg-info
