"""A data node with known data of every kind, for the wire tests (``python -m tests.wirenode``).

Timeline ``fast`` (`N_FAST` samples, `DT_FAST` s apart from `T0`) carries a
float with NaN (``x``), an int (``i``), a bool (``b``) and a string
(``s``); timeline ``slow`` (every `DT_SLOW` s) carries ``y``. :func:`series`
is the truth the tests compare against.
"""

import numpy as np

from sisock.node import DataNodeServer, run_node

T0 = 1500000000.0
N_FAST, DT_FAST = 200_000, 0.01
DT_SLOW = 1.0
FAST = ("x", "i", "b", "s")
SLOW = ("y",)


def series(start, end):
    """The node's data in ``[start, end)``: ``{timeline: (t, {field: values})}``."""
    t = T0 + np.arange(N_FAST) * DT_FAST
    n = np.arange(N_FAST)
    x = np.sin(n / 100.0) * 1e3
    x[n % 7 == 3] = np.nan
    fast = {"x": x, "i": n * 1_000_003 - 7, "b": n % 3 == 0,
            "s": np.array([f"s{k % 13}" for k in range(N_FAST)], dtype=object)}
    slow_t = T0 + np.arange(int(N_FAST * DT_FAST / DT_SLOW)) * DT_SLOW
    out = {}
    for name, tt, fields in (("fast", t, fast), ("slow", slow_t, {"y": np.cos(slow_t)})):
        keep = (tt >= start) & (tt < end)
        out[name] = (tt[keep], {f: v[keep] for f, v in fields.items()})
    return out


class WireNode(DataNodeServer):
    """Known data of every kind on two timelines."""

    name = "wire"
    description = "known data for the wire tests"

    def _get_fields_blocking(self, start, end):
        field = {f: {"description": None, "timeline": "fast", "units": None,
                     "type": {"b": "bool", "s": "string"}.get(f, "number")} for f in FAST}
        field["y"] = {"description": None, "timeline": "slow", "type": "number", "units": None}
        return field, {"fast": {"interval": DT_FAST, "field": list(FAST)},
                       "slow": {"interval": DT_SLOW, "field": list(SLOW)}}

    def _get_data_blocking(self, field, start, end, min_stride=None):
        data, timeline = {}, {}
        for name, (t, values) in series(start, end).items():
            wanted = {f: v for f, v in values.items() if f in field}
            if wanted:
                timeline[name] = {"t": t, "finalized_until": T0}
                data.update(wanted)
        return {"data": data, "timeline": timeline}


if __name__ == "__main__":
    run_node(WireNode)
