"""A live node that serves a store recorded beforehand (``python -m tests.historynode --data-dir DIR``).

It declares the timeline of `tests.test_history` and records nothing
more, so its answers come from the file ``DIR/history.sqlite`` the test
wrote: raw samples, rollup tiers and all.
"""

from sisock.node import DataNodeServer, run_node
from tests.test_history import FIELDS


class HistoryNode(DataNodeServer):
    """Serves a store recorded beforehand."""

    name = "history"
    description = "a recorded store, read back"

    def start(self):
        self.declare("tl", FIELDS, interval=5.0)


if __name__ == "__main__":
    run_node(HistoryNode)
