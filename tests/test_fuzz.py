"""Every RPC fuzzed with hypothesis (tests/fuzz_rpc.py) against the session stack, in a pytest of its own."""

import subprocess
import sys

from sisock.router.directory import PROJECT_DIR


def test_every_rpc_answers_bad_input_with_a_sisock_error_or_a_valid_answer(stack):
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(PROJECT_DIR / "tests" / "fuzz_rpc.py"), "-q", "-p", "no:twisted",
         "-p", "no:cacheprovider", "--hypothesis-seed=20261121"],
        cwd=PROJECT_DIR, env=stack.env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
