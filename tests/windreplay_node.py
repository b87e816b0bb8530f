"""A live node that replays the APEX wind speed at speed (``python -m tests.windreplay_node``).

``play(first, count, rate)`` records rows ``first .. first+count-1`` of
``apex_windspeed.dat`` as live blocks on timeline ``wind`` (interval 60 s,
the archive's), one block a row, ``rate`` rows a wall-clock second. The
samples keep the archive's spacing (a minute apart) but are moved to the
present: the first replay starts at the time of the call, each later one
a minute after the last sample recorded, so the times only go forward.
"""

import time

from twisted.internet import task

from nodes.weather.node import DEFAULT_ARCHIVE
from sisock.node import DataNodeServer, procedure, run_node


class WindReplay(DataNodeServer):
    """APEX wind speed, replayed as live data."""

    name = "windreplay"
    description = "APEX wind speed replayed at speed"

    def __init__(self, config=None):
        super().__init__(config)
        with open(DEFAULT_ARCHIVE / "apex_windspeed.dat") as fp:
            self.rows = [tuple(map(float, line.split())) for line in fp if line.strip() and line[0] != "#"]
        self.next_t = None
        self.declare("wind", {"windspeed": {"units": "km/h", "description": "APEX wind speed", "type": "number"}},
                     interval=60.0, capacity=10000)

    @procedure
    def play(self, first: int, count: int, rate: float = 20.0):
        """Replay ``count`` archive rows from row ``first``, ``rate`` rows a second.

        Returns ``{"start": t, "end": t}``: the sample times of the first and last rows as recorded.
        """
        rows = self.rows[first:first + count]
        start = self.next_t or time.time()
        shift = start - rows[0][0]
        self.next_t = rows[-1][0] + shift + 60.0
        pending = iter(rows)

        def step():
            row = next(pending, None)
            if row is None:
                loop.stop()
                return
            self.record("wind", [row[0] + shift], {"windspeed": [float(row[1])]})

        loop = task.LoopingCall(step)
        loop.start(1.0 / rate)
        return {"start": rows[0][0] + shift, "end": rows[-1][0] + shift}


if __name__ == "__main__":
    run_node(WindReplay)
