"""The README's thermometer, a live node with a typed command (``python -m tests.thermometer_node``).

It records ``temperature`` (21 C plus the calibration offset) on timeline
``room`` every 0.1 s. ``--broken`` makes every sample a string in that
number field, so that recording fails as a node author's mistake would.
"""

import time
from typing import Literal

from sisock.node import DataNodeServer, procedure, run_node
from sisock.node.commands import command


class Thermometer(DataNodeServer):
    """A thermometer whose readings can be shifted."""

    name = "thermometer"
    description = "A thermometer with a calibration offset"

    def __init__(self, config=None):
        super().__init__(config)
        self.offset = 0.0
        self.broken = getattr((self.config.extra or {}).get("args"), "broken", False)
        self.declare("room", {"temperature": {"units": "C", "description": "air", "type": "number"}},
                     interval=0.1, capacity=1000)

    def start(self):
        self.every(0.1, self.sample)

    def sample(self):
        value = "warm" if self.broken else 21.0 + self.offset
        return "room", [time.time()], {"temperature": [value]}

    @command
    def calibrate(self, offset: float = 0.0):
        """Shift every later reading by offset degrees.

        Parameters
        ----------
        offset : float
            Degrees Celsius added to each reading.
        """
        self.offset = offset
        return {"offset": offset}

    @procedure
    def reading(self, unit: Literal["C", "F"] = "C"):
        """The temperature now, calibrated.

        Parameters
        ----------
        unit : str
            C or F.
        """
        celsius = 21.0 + self.offset
        return celsius if unit == "C" else celsius * 9 / 5 + 32


def add_arguments(parser):
    parser.add_argument("--broken", action="store_true", help="record strings in the number field")


if __name__ == "__main__":
    run_node(Thermometer, add_arguments=add_arguments)
