"""The bridge against its own OpenAPI description, fuzzed by schemathesis: no 5xx, conforming answers."""

import os
import subprocess

import pytest

from tests.conftest import ROOT

SCHEMATHESIS = ROOT / ".venv-schemathesis" / "bin" / "schemathesis"
SPEC = ROOT / "grafana_bridge" / "openapi.yaml"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@pytest.mark.skipif(not SCHEMATHESIS.exists(), reason=f"{SCHEMATHESIS} is missing: `make test` installs schemathesis "
                    "in a virtualenv of its own (its dependencies conflict with crossbar's pins)")
def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_spec(stack):
    run = subprocess.run(
        [str(SCHEMATHESIS), "run", str(SPEC), "--url", stack.bridge_url, "--checks", CHECKS,
         "--max-examples", "40", "--request-timeout", "20", "--seed", "20261121"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, SCHEMATHESIS_HOOKS=""))
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "passed" in run.stdout
