"""A node written for the original sisock runs under autobahn's ApplicationRunner, with its own
import (``import sisock``, then ``sisock.base.DataNodeServer``) or with ours."""

import sys
import textwrap

import pytest
import pytest_twisted

from tests.conftest import Proc

# The shape of the original sisock's example nodes: an ApplicationSession
# subclass that calls ApplicationSession.__init__ itself, overrides the
# blocking methods, and is run by autobahn's ApplicationRunner. IMPORT and
# BASE are the original's ("import sisock", "sisock.base.DataNodeServer") or ours.
ORIGINAL_STYLE_NODE = textwrap.dedent('''
    import os

    from autobahn.twisted.wamp import ApplicationRunner, ApplicationSession

    IMPORT
    class old_style(BASE):
        def __init__(self, config):
            ApplicationSession.__init__(self, config)
            self.name = "old_style"
            self.description = "An original-sisock node"

        def _get_fields_blocking(self, start, end):
            return ({"level": {"description": "tank level", "timeline": "tank", "type": "number", "units": "m"}},
                    {"tank": {"interval": 10.0, "field": ["level"]}})

        def _get_data_blocking(self, field, start, end, min_stride=None):
            t = [1500000000.0 + 10 * i for i in range(6)]
            keep = [i for i, x in enumerate(t) if start <= x < end]
            return {"data": {"level": [1.5 + i for i in keep]},
                    "timeline": {"tank": {"t": [t[i] for i in keep], "finalized_until": t[-1]}}}


    if __name__ == "__main__":
        ApplicationRunner(os.environ["SISOCK_URL"], "sisock").run(old_style)
''')


@pytest.mark.parametrize("imports, base", [("import sisock", "sisock.base.DataNodeServer"),
                                           ("from sisock import DataNodeServer", "DataNodeServer")],
                         ids=["original-import", "our-import"])
@pytest_twisted.inlineCallbacks
def test_an_original_sisock_node_run_by_application_runner_serves_through_the_hub(stack, consumer, tmp_path,
                                                                                  imports, base):
    script = tmp_path / "old_style_node.py"
    script.write_text(ORIGINAL_STYLE_NODE.replace("IMPORT", imports).replace("BASE", base))
    proc = Proc("old_style", [sys.executable, str(script)], stack.env, str(tmp_path)).start()
    try:
        yield proc.ready()
        nodes = yield consumer.get_data_node()
        assert {"name": "old_style", "description": "An original-sisock node"} in nodes
        field, timeline = yield consumer.get_fields("old_style", 1, 0)
        assert field["level"]["units"] == "m" and timeline["tank"]["field"] == ["level"]
        result = yield consumer.get_data("old_style", ["level"], 1500000010, 1500000040)
        assert list(result["timeline"]["tank"]["t"]) == [1500000010.0, 1500000020.0, 1500000030.0]
        assert list(result["data"]["level"]) == [2.5, 3.5, 4.5]
        downsampled = yield consumer.get_data("old_style", ["level"], 1500000000, 1500000060, 30)
        assert list(downsampled["timeline"]["tank"]["t"]) == [1500000000.0, 1500000030.0]
        assert list(downsampled["data"]["level"]) == [2.5, 5.5]
    finally:
        proc.stop()
