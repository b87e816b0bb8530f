"""How a ``sisock`` command ends: stopped by Ctrl-C in a pipeline, or told no by the router.

Each test runs the installed ``sisock`` command in child processes against
the session stack's router, the way a shell runs a pipeline.
"""

import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import free_port

SISOCK = os.path.join(os.path.dirname(sys.executable), "sisock")
#: Seconds a command may take to end once it was told to.
QUICK = 10


def user_env(stack):
    """The stack's environment as a user's shell has it: stdout block-buffered in a pipe."""
    return {k: v for k, v in stack.env.items() if k != "PYTHONUNBUFFERED"}


# head keeps its output in a 4 KiB block when it writes into a pipe (here, this test's): stdbuf -oL
# makes it hand each line on, so that the first sample reaches the test in a second, not in twenty
@pytest.mark.parametrize("reader", [["cat"], ["stdbuf", "-oL", "head", "-n", "1000"]], ids=" ".join)
def test_tail_into_a_reader_stopped_by_ctrl_c_ends_with_0_without_a_word(stack, tmp_path, reader):
    """Ctrl-C signals the whole pipeline: the reader ends at once, and tail must not take that for a reader
    gone (141), nor say anything (a traceback) on its way out."""
    with open(tmp_path / "stderr", "w+") as err:
        tail = subprocess.Popen([SISOCK, "tail", "sensors", "cpu_percent"], env=user_env(stack),
                                stdout=subprocess.PIPE, stderr=err, process_group=0)
        try:
            piped = subprocess.Popen(reader, stdin=tail.stdout, stdout=subprocess.PIPE, text=True,
                                   process_group=tail.pid)
            tail.stdout.close()  # the reader has the only reading end
            assert "cpu_percent=" in piped.stdout.readline()  # samples flow through the pipeline
            os.killpg(tail.pid, signal.SIGINT)
            status = tail.wait(QUICK)
            piped.wait(QUICK)
        finally:
            tail.kill()
            tail.wait()
        err.seek(0)
        assert (status, err.read()) == (0, "# live samples of sensors; Ctrl-C stops\n")


def test_a_url_whose_path_the_router_does_not_serve_is_said_at_once_with_the_router_s_answer(stack):
    wrong = stack.url.replace("/ws", "/wrong")
    done = subprocess.run([SISOCK, "fields", "weather", "--url", wrong, "--timeout", "60"], env=stack.env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr == f"sisock fields: the router at {wrong} answered HTTP 404: no WAMP endpoint at /wrong\n"


def test_a_url_where_nothing_listens_is_said_at_once(stack):
    nowhere = f"ws://127.0.0.1:{free_port()}/ws"
    done = subprocess.run([SISOCK, "fields", "weather", "--url", nowhere, "--timeout", "60"], env=stack.env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr == f"sisock fields: router not reachable at {nowhere}: connection refused\n"


def test_tail_run_in_the_background_of_a_script_ignores_ctrl_c_as_it_was_told(stack):
    """A shell starts a background command (``sisock tail ... &`` in a script) with SIGINT ignored."""
    tail = subprocess.Popen([SISOCK, "tail", "sensors", "cpu_percent"], env=stack.env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert "cpu_percent=" in tail.stdout.readline()
        tail.send_signal(signal.SIGINT)
        assert "cpu_percent=" in tail.stdout.readline() and "cpu_percent=" in tail.stdout.readline()
        assert tail.poll() is None
    finally:
        tail.kill()
        tail.wait()


@pytest.fixture
def sensors_alone(fresh_stack):
    """A router of the test's own, its hub and the sensors node."""
    fresh_stack.spawn("sensors", "nodes.sensors", "--interval", "0.5")
    return fresh_stack


def test_tail_whose_router_goes_away_says_so_and_ends_with_1(sensors_alone):
    fresh_stack = sensors_alone
    tail = subprocess.Popen([SISOCK, "tail", "sensors", "cpu_percent"], env=fresh_stack.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert "cpu_percent=" in tail.stdout.readline()
        fresh_stack.router.stop()
        assert tail.wait(QUICK) == 1
        assert tail.stderr.read().splitlines()[-1] == f"sisock tail: lost the router at {fresh_stack.url}"
    finally:
        tail.kill()
        tail.wait()
