"""The host's live metrics, read with psutil.

:class:`HostMetrics` discovers once what this host exposes (CPU, load,
memory, swap, disk and network counters, temperatures and fans where the
kernel has them) and then takes non-blocking readings of all of it. Counters
are turned into rates from the previous reading and the elapsed monotonic
time. A reading that fails is NaN; a metric the platform lacks is left out
of :meth:`HostMetrics.fields` altogether.
"""

import re
import time

import psutil

NAN = float("nan")


def sanitize(name):
    """A field-name-safe form of ``name``: lower case ``[a-z0-9_]+``.

    Parameters
    ----------
    name : str
        E.g. a psutil sensor name or label (``"Package id 0"``).

    Returns
    -------
    str
        Runs of other characters become one ``_``, leading/trailing ``_``
        are stripped; ``"x"`` if nothing is left.
    """
    s = re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")
    return s or "x"


def _call(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, or None if it raises or psutil lacks it."""
    try:
        return fn(*args, **kwargs)
    except Exception:  # psutil raises OSError, RuntimeError, NotImplementedError...
        return None


def _float(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return NAN


class _Rate:
    """Rate in units/s of a monotonic counter between consecutive readings."""

    def __init__(self):
        self._prev = None  # (value, monotonic time)

    def update(self, value, now):
        """Return the rate since the previous value; NaN when there is none,
        the counter went backwards (reset/wrap) or no time elapsed."""
        prev, self._prev = self._prev, (None if value is None else (value, now))
        if value is None or prev is None:
            return NAN
        dv, dt = value - prev[0], now - prev[1]
        if dv < 0 or dt <= 0:
            return NAN
        return dv / dt


class HostMetrics:
    """Live metrics of the host this process runs on.

    The set of fields is fixed at construction: the metrics psutil offers
    on this platform, plus one field per temperature sensor and fan present
    now. ``cpu_percent`` is primed here, so the first :meth:`sample` is
    already a real (if short-window) reading.

    Parameters
    ----------
    clock : callable, optional
        Returns monotonic seconds; used for the rates. ``time.monotonic``
        by default (tests pass a fake).
    """

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._fields = {}
        self._readers = []     # callables (snapshot) -> {name: float}
        self._rates = {}
        self._add_cpu_load()
        self._add_memory()
        self._add_counters()
        self._add_sensors()

    # -- discovery --------------------------------------------------------

    def _field(self, name, description, units):
        self._fields[name] = {"description": description, "type": "number",
                              "units": units}

    def _unique(self, name):
        base, i = name, 2
        while name in self._fields:
            name = f"{base}_{i}"
            i += 1
        return name

    def _add_cpu_load(self):
        if hasattr(psutil, "cpu_percent"):
            _call(psutil.cpu_percent, interval=None)   # prime the window
            self._field("cpu_percent",
                        "CPU utilisation of all cores since the previous sample", "%")
            self._readers.append(
                lambda: {"cpu_percent": _float(_call(psutil.cpu_percent, interval=None))})
        if hasattr(psutil, "getloadavg") and _call(psutil.getloadavg) is not None:
            names = ("load_1m", "load_5m", "load_15m")
            for name, window in zip(names, ("1", "5", "15"), strict=True):
                self._field(name, f"System load average over {window} min", "")

            def read_load():
                load = _call(psutil.getloadavg) or (NAN,) * 3
                return {n: _float(v) for n, v in zip(names, load, strict=True)}
            self._readers.append(read_load)

    def _add_memory(self):
        if hasattr(psutil, "virtual_memory"):
            self._field("mem_percent", "Physical memory in use", "%")
            self._field("mem_used", "Physical memory in use", "bytes")
            self._field("mem_available",
                        "Physical memory available without swapping", "bytes")

            def read_mem():
                vm = _call(psutil.virtual_memory)
                return {"mem_percent": _float(getattr(vm, "percent", None)),
                        "mem_used": _float(getattr(vm, "used", None)),
                        "mem_available": _float(getattr(vm, "available", None))}
            self._readers.append(read_mem)
        if hasattr(psutil, "swap_memory"):
            self._field("swap_percent", "Swap space in use", "%")
            self._readers.append(lambda: {"swap_percent": _float(
                getattr(_call(psutil.swap_memory), "percent", None))})

    def _add_counters(self):
        specs = [
            ("disk_io_counters", "disk_read_rate", "read_bytes", "Bytes read from disks"),
            ("disk_io_counters", "disk_write_rate", "write_bytes", "Bytes written to disks"),
            ("net_io_counters", "net_sent_rate", "bytes_sent", "Bytes sent on all interfaces"),
            ("net_io_counters", "net_recv_rate", "bytes_recv",
             "Bytes received on all interfaces"),
        ]
        for fn_name, name, attr, description in specs:
            if not hasattr(psutil, fn_name):
                continue
            self._field(name, f"{description} per second since the previous sample",
                        "bytes/s")
            self._rates[name] = (getattr(psutil, fn_name), attr, _Rate())

        if self._rates:
            def read_rates():
                now = self._clock()
                snapshots, out = {}, {}
                for name, (fn, attr, rate) in self._rates.items():
                    if fn not in snapshots:
                        snapshots[fn] = _call(fn)
                    value = getattr(snapshots[fn], attr, None)
                    out[name] = rate.update(value, now)
                return out
            self._readers.append(read_rates)

    def _add_sensors(self):
        groups = [
            ("sensors_temperatures", "temp", "C", "Temperature of"),
            ("sensors_fans", "fan", "RPM", "Speed of fan"),
        ]
        for fn_name, prefix, units, description in groups:
            if not hasattr(psutil, fn_name):
                continue
            fn = getattr(psutil, fn_name)
            found = _call(fn) or {}
            where = {}    # field name -> (sensor, index in its list)
            for sensor, entries in found.items():
                for i, entry in enumerate(entries):
                    label = getattr(entry, "label", "") or str(i)
                    name = self._unique(
                        f"{prefix}_{sanitize(sensor)}_{sanitize(label)}")
                    self._field(name, f"{description} {sensor} {label}".strip(), units)
                    where[name] = (sensor, i)
            if where:
                self._readers.append(self._sensor_reader(fn, where))

    @staticmethod
    def _sensor_reader(fn, where):
        def read():
            now = _call(fn) or {}
            out = {}
            for name, (sensor, i) in where.items():
                entries = now.get(sensor) or ()
                out[name] = _float(getattr(entries[i], "current", None)) \
                    if i < len(entries) else NAN
            return out
        return read

    # -- public -----------------------------------------------------------

    def fields(self):
        """Describe every metric this host exposes.

        Returns
        -------
        dict of str to dict
            ``{name: {"description": str, "type": "number", "units": str}}``
            with units ``"%"``, ``"bytes"``, ``"bytes/s"``, ``"C"``,
            ``"RPM"`` or ``""`` (load averages). Names match
            ``^[a-z0-9_]+$``.
        """
        return {k: dict(v) for k, v in self._fields.items()}

    def sample(self):
        """Read every metric once, now, without blocking.

        Returns
        -------
        dict of str to float
            One value per key of :meth:`fields`, always all of them. NaN
            when a reading failed; rates are NaN on the first sample and
            after a counter went backwards (reset or wrap).
        """
        out = dict.fromkeys(self._fields, NAN)
        for read in self._readers:
            try:
                values = read()
            except Exception:
                continue
            for k, v in values.items():
                if k in out:
                    out[k] = _float(v)
        return out
