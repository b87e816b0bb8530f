"""The export benchmark's data node: ``--samples`` rows of ``--fields`` number fields made on demand
(``python -m bench.export_node --samples 100000000 --fields 1``).

Timeline ``tl``, one row a second from `T0` (UNIX seconds UTC), fields
``f0`` ... : a slow sine with a NaN every 1,000th row, computed for the asked
range like an archive node reads its files (`_get_data_blocking`); it records nothing.
"""

import numpy as np

from sisock.node import DataNodeServer, run_node

#: Time of the first row, UNIX seconds UTC (2020-09-13).
T0 = 1.6e9
#: Seconds between rows.
STEP = 1.0


class ExportNode(DataNodeServer):
    """``samples`` rows of ``fields`` float64 fields on timeline ``tl``."""

    name = "export"
    description = "sisock export benchmark node (rows made on demand)"

    def __init__(self, config=None):
        super().__init__(config)
        args = (self.config.extra or {}).get("args")
        self.samples, self.fields = int(getattr(args, "samples", 1000)), int(getattr(args, "fields", 1))

    def _span(self, start, end):
        i0 = int(np.clip(np.ceil((start - T0) / STEP), 0, self.samples))
        return i0, int(np.clip(np.ceil((end - T0) / STEP), i0, self.samples))

    def _get_fields_blocking(self, start, end):
        names = [f"f{k}" for k in range(self.fields)]
        field = {f: {"description": f"benchmark field {f}", "timeline": "tl", "type": "number", "units": "V"}
                 for f in names}
        last = T0 + (self.samples - 1) * STEP
        return field, {"tl": {"interval": STEP, "field": names, "first": T0, "last": last}}

    def _get_data_blocking(self, field, start, end, min_stride=None):
        i0, i1 = self._span(start, end)
        i = np.arange(i0, i1, dtype=np.float64)
        data = {}
        for k, f in enumerate(f for f in field if f[1:].isdigit() and int(f[1:]) < self.fields):
            values = np.sin(i * 1e-3 + k)
            values[::1000] = np.nan
            data[f] = values
        return {"data": data, "timeline": {"tl": {"t": T0 + i * STEP, "finalized_until": T0 + i1 * STEP,
                                                  "field": list(field)}}}


def add_arguments(parser):
    """``--samples`` (rows) and ``--fields``."""
    parser.add_argument("--samples", type=float, default=1e8, help="rows of the timeline (default 1e8)")
    parser.add_argument("--fields", type=int, default=1, help="number fields (default 1)")


if __name__ == "__main__":
    run_node(ExportNode, add_arguments=add_arguments)
