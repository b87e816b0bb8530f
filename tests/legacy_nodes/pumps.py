"""Two nodes in one file, written as for the original sisock, used unmodified by the tests.

``pump_log`` names itself in an ``__init__`` that calls
``ApplicationSession.__init__``, answers ``get_fields`` and ``get_data``
with Deferreds, names its timeline's one field as a string (as some
original nodes do) and says when ``after_onJoin`` runs. ``valve_log``
overrides the ``_blocking`` variants. Both read ./pump_rpm.csv and
./valve_state.csv (``time,value`` rows) relative to where they run.
"""

from autobahn.twisted.wamp import ApplicationSession
from twisted.internet import reactor, task, threads

import sisock


def read_csv(path, start, end):
    """[(t, value), ...] of ``path`` with start <= t < end."""
    rows = []
    with open(path) as fp:
        for line in fp:
            t, v = line.strip().split(",")
            if start <= float(t) < end:
                rows.append((float(t), float(v)))
    return rows


class pump_log(sisock.base.DataNodeServer):
    def __init__(self, config):
        ApplicationSession.__init__(self, config)
        self.name = "pump_log"
        self.description = "Pump speed log."

    def after_onJoin(self, details):
        print("pump_log: after_onJoin", flush=True)

    def get_fields(self, start, end):
        field = {"rpm": {"description": "pump speed", "timeline": "pump", "type": "number", "units": "1/min"}}
        timeline = {"pump": {"interval": 5.0, "field": "rpm"}}
        return task.deferLater(reactor, 0.01, lambda: (field, timeline))

    def get_data(self, field, start, end, min_stride=None):
        def read():
            rows = read_csv("./pump_rpm.csv", sisock.base.sisock_to_unix_time(start),
                            sisock.base.sisock_to_unix_time(end))
            data = {f: [] for f in field}
            if "rpm" in field:
                data["rpm"] = [v for t, v in rows]
            return {"data": data, "timeline": {"pump": {"t": [t for t, v in rows], "finalized_until": None}}}

        return threads.deferToThread(read)


class valve_log(sisock.base.DataNodeServer):
    name = "valve_log"
    description = "Valve open (1) or shut (0)."

    def _get_fields_blocking(self, start, end):
        return ({"open": {"description": "valve state", "timeline": "valve", "type": "number", "units": None}},
                {"valve": {"interval": None, "field": ["open"]}})

    def _get_data_blocking(self, field, start, end, min_stride=None):
        rows = read_csv("./valve_state.csv", start, end)
        return {"data": {"open": [v for t, v in rows]},
                "timeline": {"valve": {"t": [t for t, v in rows], "finalized_until": None}}}
