"""``sisock call`` and command arguments, as a user meets them: a real node process, the real CLI.

The node is the README's thermometer (`tests.thermometer_node`), started on
the session stack; ``sisock`` runs as a child process with the stack's
environment (admin secret in the secrets file).
"""

import json
import os
import subprocess
import sys
import time

import pytest
import pytest_twisted
from twisted.python.failure import Failure

from sisock.node.failures import RepeatedFailure
from sisock.wire import uri
from sisock.wire.errors import InvalidArgument
from tests.conftest import pause
from tests.registry_support import connect_admin, joined, until

SISOCK = os.path.join(os.path.dirname(sys.executable), "sisock")


@pytest.fixture(scope="module")
def thermometer(stack):
    """The thermometer node, recording every 0.1 s on the session stack."""
    with stack.running("thermometer", "tests.thermometer_node") as proc:
        yield proc


@pytest.fixture
def admin(stack):
    yield from joined(connect_admin(stack))


def sisock(stack, *args, env=None):
    """Run ``sisock *args``; the CompletedProcess (text stdout and stderr)."""
    return subprocess.run([SISOCK, *args], env=env or stack.env, capture_output=True, text=True, timeout=60)


def latest(session):
    """Deferred ``(t, temperature)`` of the thermometer's newest sample."""
    d = session.call(uri.node_uri("thermometer", "get_latest"))
    return d.addCallback(lambda answer: (answer["room"]["t"][-1], answer["room"]["data"]["temperature"][-1]))


def recording(session, value, after=None):
    """Deferred that fires once the thermometer has recorded ``value`` after time ``after`` (default: now)."""
    after = time.time() if after is None else after
    return until(lambda: latest(session), lambda got: got[1] == value and got[0] > after,
                 f"a sample of {value} after {after}")


@pytest_twisted.inlineCallbacks
def test_a_command_argument_of_the_wrong_type_is_refused_naming_it_and_the_node_keeps_recording(thermometer, admin):
    for bad in ({"offset": "abc"}, {"offset": True}, {"offset": None}):
        with pytest.raises(InvalidArgument) as info:
            yield admin.call(uri.node_uri("thermometer", "command"), "calibrate", **bad)
        assert "offset: must be float" in info.value.message, info.value.message
    assert (yield admin.call(uri.node_uri("thermometer", "command"), "calibrate", 1)) == {"offset": 1}
    yield recording(admin, 22.0)
    api = yield admin.call(uri.node_uri("thermometer", "get_api"))
    assert api["commands"][0]["parameters"][0]["type"] == "float"


def test_sisock_call_parses_arguments_with_their_declared_types_and_refuses_what_does_not_fit(stack, thermometer):
    wrong = sisock(stack, "call", "thermometer", "calibrate", "offset=abc")
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert wrong.stderr.count("\n") == 1 and "offset: must be float, got 'abc'" in wrong.stderr, wrong.stderr
    bare = sisock(stack, "call", "thermometer", "calibrate", "offset")
    assert bare.returncode == 2 and "offset=VALUE" in bare.stderr and bare.stderr.count("\n") == 1, bare.stderr
    extra = sisock(stack, "call", "thermometer", "calibrate", "1", "2")
    assert extra.returncode == 2 and "'2' is not an argument of calibrate" in extra.stderr, extra.stderr
    done = sisock(stack, "call", "thermometer", "calibrate", "offset=-0.5", "--json")
    assert done.returncode == 0 and json.loads(done.stdout) == {"offset": -0.5}, done.stderr
    positional = sisock(stack, "call", "thermometer", "calibrate", "0.25")
    assert positional.returncode == 0 and positional.stdout == "offset: 0.25\n", positional.stderr
    shown = sisock(stack, "call", "thermometer")
    assert "command calibrate(offset=0.0)" in shown.stdout and "offset (float): Degrees" in shown.stdout


def test_anyone_calls_a_node_procedure_from_a_shell_with_its_arguments_checked(stack, thermometer, tmp_path):
    anyone = dict(stack.env, SISOCK_SECRETS_FILE=str(tmp_path / "none.json"))  # no admin secret at hand
    assert sisock(stack, "call", "thermometer", "calibrate", "offset=0", "--json").returncode == 0
    done = sisock(stack, "call", "thermometer", "reading", "unit=F", env=anyone)
    assert done.returncode == 0 and done.stdout == "69.8\n", done.stderr
    wrong = sisock(stack, "call", "thermometer", "reading", "unit=K", env=anyone)
    assert wrong.returncode == 2 and "reading: unit: must be 'C' | 'F', got 'K'" in wrong.stderr, wrong.stderr
    refused = sisock(stack, "call", "thermometer", "calibrate", "offset=1", env=anyone)
    assert refused.returncode == 4 and "commands need the admin secret" in refused.stderr, refused.stderr
    api = json.loads(sisock(stack, "call", "thermometer", "--json", env=anyone).stdout)
    assert [(p["roles"], p["parameters"][0]["type"]) for p in api["procedures"] if p["name"] == "reading"] == [
        (None, "'C' | 'F'")]
    assert "procedure reading(unit=\"C\")" in sisock(stack, "call", "thermometer", env=anyone).stdout


@pytest_twisted.inlineCallbacks
def test_the_node_records_on_after_the_cli_sent_it_a_bad_argument(stack, thermometer, admin):
    yield admin.call(uri.node_uri("thermometer", "command"), "calibrate", 0.5)
    yield recording(admin, 21.5)
    done = yield _cli(stack, "call", "thermometer", "calibrate", "offset=abc")
    assert done == 2
    yield recording(admin, 21.5, after=time.time() + 0.5)
    assert "sampling failed" not in open(thermometer.log_path).read()


def _cli(stack, *args):
    from twisted.internet import utils

    return utils.getProcessValue(SISOCK, args, env=stack.env)


@pytest.fixture
def broken(stack):
    """A thermometer that records strings in its number field, logging at debug level."""
    with stack.running("broken", "tests.thermometer_node", "--name", "thermometer_broken", "--broken",
                       "--log-level", "debug") as proc:
        yield proc


@pytest_twisted.inlineCallbacks
def test_a_failing_sampling_loop_logs_why_once_and_the_traceback_at_debug_level(broken):
    yield broken.wait_output("a number field takes numbers")
    yield pause(1.5)  # some 15 more failing samples
    log = broken.output()
    lines = [line for line in log.splitlines() if "sampling failed" in line]
    assert len(lines) == 1, lines
    assert "sampling failed: InvalidArgument: data['temperature']" in lines[0] and "not strings" in lines[0], lines[0]
    assert "Traceback" in log and "store.py" in log


def test_a_repeated_failure_is_logged_once_a_window_with_the_count_in_between():
    lines, now = [], [0.0]

    class Log:
        def error(self, fmt, **kw):
            lines.append(("error", fmt.format(**kw)))

        def debug(self, fmt, **kw):
            lines.append(("debug", fmt.format(**kw)))

    failed = RepeatedFailure(Log(), "sisock: sampling", window=60.0, clock=lambda: now[0])
    for t in range(0, 125):
        now[0] = float(t)
        failed(Failure(ValueError(f"bad {t}")))
    errors = [text for level, text in lines if level == "error"]
    assert errors == ["sisock: sampling failed: ValueError: bad 0",
                      "sisock: sampling failed 59 more times in the last 60 s; the last: ValueError: bad 59",
                      "sisock: sampling failed: ValueError: bad 60",
                      "sisock: sampling failed 59 more times in the last 60 s; the last: ValueError: bad 119",
                      "sisock: sampling failed: ValueError: bad 120"]
    assert [level for level, _ in lines].count("debug") == 3
