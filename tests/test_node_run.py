"""A node's command line (`sisock.node.run.run_node`), run as its author would."""

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

UNDOCUMENTED = textwrap.dedent('''
    from sisock.node import DataNodeServer, run_node


    class Undocumented(DataNodeServer):
        name = "undocumented"


    if __name__ == "__main__":
        run_node(Undocumented)
''')


def run_script(tmp_path, text, *args, **env):
    script = tmp_path / "node.py"
    script.write_text(text)
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **env})


def test_a_node_class_without_a_docstring_has_a_help_that_names_it(tmp_path):
    run = run_script(tmp_path, UNDOCUMENTED, "--help")
    assert run.returncode == 0, run.stderr
    assert "Run the sisock data node undocumented." in run.stdout
    assert "--retention SECONDS" in run.stdout and "--url" in run.stdout


def test_a_bad_store_option_is_a_usage_error_naming_it(tmp_path):
    run = run_script(tmp_path, UNDOCUMENTED, "--max-bytes", "lots")
    assert run.returncode == 2
    assert "--max-bytes" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("variable", ["SISOCK_CHUNK_BYTES", "SISOCK_MAX_MESSAGE_BYTES"])
def test_a_bad_chunk_limit_in_the_environment_stops_a_node_at_start_naming_it(tmp_path, variable):
    run = run_script(tmp_path, UNDOCUMENTED, **{variable: "lots", "SISOCK_NODE_SECRET": "s",
                                              "SISOCK_URL": "ws://127.0.0.1:1/ws"})
    assert run.returncode == 2, run.stderr
    assert variable in run.stderr and "lots" in run.stderr and "Traceback" not in run.stderr


def test_a_bad_chunk_limit_stops_a_fleet_at_start_naming_it(tmp_path):
    run = subprocess.run([sys.executable, "-m", "nodes.fleet", "--count", "1"], capture_output=True, text=True,
                         timeout=60, cwd=ROOT, env={"PATH": "/usr/bin:/bin", "SISOCK_NODE_SECRET": "s",
                                                    "SISOCK_URL": "ws://127.0.0.1:1/ws", "SISOCK_CHUNK_BYTES": "100"})
    assert run.returncode == 2, run.stderr
    assert "SISOCK_CHUNK_BYTES" in run.stderr and "100" in run.stderr and "Traceback" not in run.stderr
