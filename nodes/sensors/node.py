"""The sensors data node: live metrics of the host it runs on, recorded and published.

Samples are kept in memory for ``--history`` seconds and in the node's store
file (``<data dir>/sensors.sqlite``, ``--retention`` / ``--max-bytes``) for
longer: a restarted node serves its earlier samples at once.
"""

import time

from nodes.sensors.metrics import HostMetrics
from sisock import config
from sisock.node import DataNodeServer

TIMELINE = "host"


class SensorsNode(DataNodeServer):
    """Sample this host's metrics (psutil) every interval, record them, publish them live."""

    name = "sensors"
    description = "Live metrics of this host: CPU, load, memory, swap, disk and network rates, temperatures, fans"

    def __init__(self, config=None):
        super().__init__(config)
        args = (self.config.extra or {}).get("args")
        self.interval = getattr(args, "interval", 1.0)
        history = getattr(args, "history", 86400.0)
        self.metrics = HostMetrics()
        self.declare(TIMELINE, self.metrics.fields(), interval=self.interval,
                     capacity=max(1, int(history / self.interval) + 1))

    def start(self):
        """Sample every ``--interval`` seconds for the life of the process."""
        self.every(self.interval, self.sample)

    def sample(self):
        """One reading of every metric: ``(timeline, [t], {field: [value]})``."""
        values = self.metrics.sample()
        return TIMELINE, [time.time()], {f: [v] for f, v in values.items()}


def add_arguments(parser):
    """The sensors node's own options: ``--interval`` and ``--history`` (seconds)."""
    parser.add_argument("--interval", type=config.positive_number, default=1.0,
                        help="seconds between samples (default %(default)s)")
    parser.add_argument("--history", type=config.positive_number, default=86400.0,
                        help="seconds of history kept in memory, older is read from the store file "
                             "(default %(default)s = 24 h)")
