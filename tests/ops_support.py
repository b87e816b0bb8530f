"""Fixtures shared by the operations-console tests: the 500-lamp fleet with a hub, and nodes that fail."""

import sys
import textwrap

import pytest_twisted

from tests.conftest import Proc

#: A node that answers get_data with an error, to be reported among the answers of a query across nodes.
BROKEN_NODE = textwrap.dedent('''
    from sisock.node import DataNodeServer, run_node

    class Broken(DataNodeServer):
        """A node whose every read fails."""
        name = "fleetbad"
        description = "fails on every read"
        tags = {"zone": "north"}

        def _get_fields_blocking(self, start, end):
            return {"power_w": {"description": None, "timeline": "tl", "type": "number", "units": "W"}}, \\
                   {"tl": {"interval": None, "field": ["power_w"]}}

        def _get_data_blocking(self, field, start, end, min_stride=None):
            raise OSError("the meter is unplugged")

    run_node(Broken)
''')


def start_broken(stack, directory):
    """Start `BROKEN_NODE` against ``stack``; blocks until it is READY."""
    script = directory / "broken.py"
    script.write_text(BROKEN_NODE)
    proc = Proc("broken", [sys.executable, str(script)], stack.env, str(directory)).start()
    stack.procs.append(proc)
    pytest_twisted.blockon(proc.ready())
    return proc
