"""A data node whose ``get_data`` never answers until the caller cancels it (``python -m tests.stallnode``).

It prints ``STALL get_data`` when a call arrives and ``STALL cancelled``
when the router interrupts it (the caller cancelled the call), so a test
can see whether a caller stopped waiting.
"""

from twisted.internet import defer

from sisock.node import DataNodeServer, run_node


class StallNode(DataNodeServer):
    """One field, ``x``, whose reads hang until cancelled."""

    name = "stall"
    description = "get_data hangs until the caller cancels it"

    def _get_fields_blocking(self, start, end):
        return ({"x": {"description": None, "timeline": "t", "type": "number", "units": None}},
                {"t": {"interval": 1.0, "field": ["x"]}})

    def get_data(self, field, start, end, min_stride=None, *, encoding="list", downsample="mean", details=None):
        print("STALL get_data", flush=True)
        return defer.Deferred(lambda d: print("STALL cancelled", flush=True))


if __name__ == "__main__":
    run_node(StallNode)
