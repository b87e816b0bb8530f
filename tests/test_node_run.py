"""A node's command line (`sisock.node.run.run_node`), run as its author would."""

import subprocess
import sys
import textwrap

from tests.conftest import ROOT

UNDOCUMENTED = textwrap.dedent('''
    from sisock.node import DataNodeServer, run_node


    class Undocumented(DataNodeServer):
        name = "undocumented"


    if __name__ == "__main__":
        run_node(Undocumented)
''')


def run_script(tmp_path, text, *args):
    script = tmp_path / "node.py"
    script.write_text(text)
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_a_node_class_without_a_docstring_has_a_help_that_names_it(tmp_path):
    run = run_script(tmp_path, UNDOCUMENTED, "--help")
    assert run.returncode == 0, run.stderr
    assert "Run the sisock data node undocumented." in run.stdout
    assert "--retention SECONDS" in run.stdout and "--url" in run.stdout


def test_a_bad_store_option_is_a_usage_error_naming_it(tmp_path):
    run = run_script(tmp_path, UNDOCUMENTED, "--max-bytes", "lots")
    assert run.returncode == 2
    assert "--max-bytes" in run.stderr and "Traceback" not in run.stderr
