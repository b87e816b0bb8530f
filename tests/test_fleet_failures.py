"""Fleet reports name each node that failed in one plain line, never an exception's repr.

The failing node is one an older sisock would run: it answers ``get_fields``
and ``get_data`` only, so the router has no ``get_faults`` or
``get_increase`` for it (``wamp.error.no_such_procedure``), and its
``get_data`` raises a plain Python error (``wamp.error.runtime_error``).
"""

import os
import subprocess
import sys

import pytest
import pytest_twisted
from twisted.internet import threads

from sisock.wire import uri
from tests.registry_support import close, connect_node

SISOCK = os.path.join(os.path.dirname(sys.executable), "sisock")
NAME = "oldlamp"


@pytest.fixture
def old_node(stack):
    """Node ``oldlamp`` on the session stack, served by a bare session answering get_fields and get_data."""
    session = pytest_twisted.blockon(connect_node(stack, NAME))

    def get_fields(start, end):
        return [{"power_w": {"description": "power", "timeline": "t", "type": "number", "units": "W"}},
                {"t": {"interval": 1.0, "field": ["power_w"]}}]

    def get_data(field, start, end, min_stride=None, **options):
        raise ZeroDivisionError("the meter divided by zero")

    for name, func in (("get_fields", get_fields), ("get_data", get_data)):
        pytest_twisted.blockon(session.register(func, uri.node_uri(NAME, name)))
    pytest_twisted.blockon(session.call(uri.DATA_NODE_ADD, NAME, "a lamp of an older sisock", 0))
    yield session
    close(session)


@pytest.mark.parametrize("args, words", [
    (("faults", NAME, "--day", "today"), "does not answer get_faults"),
    (("energy", NAME, "--start=-1d"), "does not answer get_increase"),
    (("query", NAME, "--field", "power_w", "--start=-1h"), "the meter divided by zero"),
], ids=["faults", "energy", "query"])
@pytest_twisted.inlineCallbacks
def test_a_node_that_fails_in_a_fleet_report_is_one_plain_line_naming_the_cause(stack, old_node, args, words):
    done = yield threads.deferToThread(subprocess.run, [SISOCK, *args], env=stack.env, capture_output=True,
                                       text=True, timeout=60)
    lines = [line for line in done.stderr.splitlines() if line.startswith(f"{NAME}: ")]
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert words in lines[0] and "ApplicationError" not in done.stderr + done.stdout, done.stderr
