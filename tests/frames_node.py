"""A data node with known values of every kind and missing ones, for the pandas/xarray tests
(``python -m tests.frames_node``).

Timeline ``fast`` has times a fraction of a millisecond apart and carries a
float with NaN (``x``), an int (``i``), a bool (``b``), a bool with a
missing value (``flag``) and a string with a missing value (``s``);
timeline ``slow`` carries ``y`` at times partly shared with ``fast``.
`SERIES` is the truth the tests compare against.
"""

import numpy as np

from sisock.node import DataNodeServer, run_node

T0 = 1700000000.0
#: timeline -> (t, {field: values}); sub-millisecond steps in ``fast``.
SERIES = {
    "fast": (T0 + np.array([0.0, 0.000123, 0.0005, 1.0000013, 2.0, 3.25]),
             {"x": np.array([1.5, np.nan, -2.25, 4.0, np.nan, 6.5]),
              "i": np.array([7, -3, 0, 2**40, 5, 11], dtype=np.int64),
              "b": np.array([True, False, True, True, False, False]),
              "flag": np.array([True, None, False, True, None, False], dtype=object),
              "s": np.array(["on", None, "off", "fault", "", "on"], dtype=object)}),
    "slow": (T0 + np.array([0.0, 2.0, 4.0]), {"y": np.array([10.0, 20.0, 30.0])}),
}
FINALIZED_UNTIL = T0 + 3.0
#: get_fields' ``field`` metadata.
FIELDS = {
    "x": {"description": "a float", "timeline": "fast", "type": "number", "units": "V"},
    "i": {"description": "an int", "timeline": "fast", "type": "number", "units": "counts"},
    "b": {"description": "a bool", "timeline": "fast", "type": "bool", "units": None},
    "flag": {"description": "a bool with a gap", "timeline": "fast", "type": "bool", "units": None},
    "s": {"description": "a string", "timeline": "fast", "type": "string", "units": None},
    "y": {"description": None, "timeline": "slow", "type": "number", "units": "K"},
}


class FramesNode(DataNodeServer):
    """`SERIES` on two timelines."""

    name = "frames"
    description = "known values of every kind, for the pandas and xarray tests"

    def _get_fields_blocking(self, start, end):
        return dict(FIELDS), {tl: {"interval": None, "field": list(values)} for tl, (_, values) in SERIES.items()}

    def _get_data_blocking(self, field, start, end, min_stride=None):
        data, timeline = {}, {}
        for name, (t, values) in SERIES.items():
            keep = (t >= start) & (t < end)
            wanted = {f: v[keep] for f, v in values.items() if f in field}
            if wanted:
                timeline[name] = {"t": t[keep], "finalized_until": FINALIZED_UNTIL}
                data.update(wanted)
        return {"data": data, "timeline": timeline}


if __name__ == "__main__":
    run_node(FramesNode)
