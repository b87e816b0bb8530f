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

# schemathesis (API fuzzing of the bridge in the tests) lives in a venv of
# its own: its dependencies conflict with crossbar's pinned ones.
SCHEMATHESIS = .venv-schemathesis/bin/schemathesis
$(SCHEMATHESIS):
	$(PYTHON) -m venv .venv-schemathesis
	.venv-schemathesis/bin/python -m pip install --quiet 'schemathesis>=4.0'

test: $(BIN)/.installed $(SCHEMATHESIS)  ## run the test suite against real processes
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .venv-schemathesis .sisock *.egg-info
