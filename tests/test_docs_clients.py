"""Every ```python block of docs/clients.md runs, as printed, against the session stack.

Each block runs in a Python process of its own (all at once), with the
stack's ``SISOCK_URL`` in its environment as a reader's would be; a block
with ``await`` at the top level (a notebook cell) runs in an asyncio loop.
Any error fails the test, naming the block.
"""

import re
import subprocess
import sys

from tests.conftest import ROOT

DOC = ROOT / "docs" / "clients.md"

#: Runs the file given as its argument like a script, or like a notebook cell if it awaits at the top level.
RUNNER = """
import ast, asyncio, inspect, sys
path = sys.argv[1]
code = compile(open(path).read(), path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
namespace = {"__name__": "__main__"}
if code.co_flags & inspect.CO_COROUTINE:
    asyncio.run(eval(code, namespace))
else:
    exec(code, namespace)
"""


def python_blocks():
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(), re.S | re.M)


def test_every_python_block_of_the_clients_page_runs_against_the_stack(stack, tmp_path):
    blocks = python_blocks()
    assert len(blocks) >= 4
    runs = []
    for i, block in enumerate(blocks, 1):
        path = tmp_path / f"block{i}.py"
        path.write_text(block)
        runs.append(subprocess.Popen([sys.executable, "-c", RUNNER, str(path)], env=stack.env, cwd=tmp_path,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    failed = []
    for i, (block, run) in enumerate(zip(blocks, runs, strict=True), 1):
        try:
            out, err = run.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            run.kill()
            out, err = run.communicate()
            err += "\n(timed out)"
        if run.returncode != 0:
            failed.append(f"block {i} ({block.splitlines()[0]!r}) exited {run.returncode}:\n{err[-2000:]}")
        elif not out.strip():
            failed.append(f"block {i} ({block.splitlines()[0]!r}) printed nothing")
    assert not failed, "\n\n".join(failed)
