"""The APEX weather archive: parsed once, answered with NumPy.

The archive is a directory of plain-text files ``apex_<field>.dat`` (see
``nodes/weather/data/README.md``)::

    # <description>          line 1: free text
    # <hourly|minutely>      line 2: nominal cadence (the field's timeline)
    # <units>                line 3: physical units
    # <YYYY-MM-DD>           line 4: first day
    <unix_time_s> <value>    one sample a line, UTC seconds

:class:`ApexArchive` reads every file once and keeps, for each cadence, one
shared timeline ``t`` (float64 seconds since the UNIX epoch, UTC, strictly
increasing) and one float64 value array per field aligned with it. Range
queries are two :func:`numpy.searchsorted` calls and a slice; nothing is
copied.

Quirks of the real files, and what loading does about them:

- **Duplicate rows.** Each file repeats the row at some midnights (13
  duplicated timestamps per file in the shipped data, all with equal values).
  One value per timestamp is kept: the *last* occurrence in the file.
- **Fields of one cadence are not co-sampled exactly.** ``windspeed`` has a
  sample at 1501043100 that ``radiometer`` lacks. A timeline's ``t`` is the
  sorted union of the timestamps of all its fields; a field without a sample
  at some ``t`` holds NaN there.
- **Implausible values.** ``windspeed`` holds 10 spikes from 470 to 9.7e8
  km/h. Every value outside its field's :data:`VALID_RANGE` (or not finite)
  becomes NaN, which goes out as null on the wire.
"""

import glob
import math
import os
import re

import numpy as np

#: Nominal sampling interval of each cadence, seconds.
INTERVAL = {"hourly": 3600.0, "minutely": 60.0}

#: Physically plausible range ``(low, high)``, both inclusive, for each field
#: at the APEX site (Llano de Chajnantor, 5100 m). Values outside become NaN.
#:
#: - temperature, C: -60..40. Record lows at 5100 m are around -25 C, highs
#:   around +20 C; the margin leaves every real reading in.
#: - humidity, %: 0..100, relative humidity by definition.
#: - pressure, mBar: 400..700. The mean at 5100 m is about 555 mBar and
#:   weather moves it by a few tens at most.
#: - windspeed, km/h: 0..200. The station's anemometer and the site's worst
#:   storms stay well below; the file's spikes start at 470.
#: - radiometer, mm of precipitable water vapour: 0..30. Chajnantor's PWV is
#:   typically 0.2..5 mm, rarely above 10 even in the altiplanic winter.
#:
#: A field without an entry here only loses non-finite values.
VALID_RANGE = {
    "temperature": (-60.0, 40.0),
    "humidity": (0.0, 100.0),
    "pressure": (400.0, 700.0),
    "windspeed": (0.0, 200.0),
    "radiometer": (0.0, 30.0),
}

_FILE_RE = re.compile(r"^apex_(?P<field>.+)\.dat$")
_HEADER_LINES = 4


def _read_header(path):
    """Return ``(description, cadence, units)`` from the 4 header lines."""
    with open(path, encoding="utf-8") as fh:
        lines = [fh.readline() for _ in range(_HEADER_LINES)]
    if not all(line.startswith("#") for line in lines):
        raise ValueError("%s: expected %d header lines starting with '#'"
                         % (path, _HEADER_LINES))
    description, cadence, units = (line[1:].strip() for line in lines[:3])
    if cadence not in INTERVAL:
        raise ValueError("%s: cadence %r on line 2 is not one of %s"
                         % (path, cadence, sorted(INTERVAL)))
    return description, cadence, units


def _read_samples(path):
    """Parse ``<t> <value>`` rows; return sorted unique ``(t, v)`` float64.

    Rows are sorted stably by time; of rows sharing a timestamp the last one
    in the file is kept.
    """
    raw = np.loadtxt(path, comments="#", dtype=np.float64, ndmin=2)
    if raw.size == 0:
        return np.empty(0), np.empty(0)
    if raw.shape[1] != 2:
        raise ValueError("%s: expected 2 columns, got %d" % (path, raw.shape[1]))
    order = np.argsort(raw[:, 0], kind="stable")
    t, v = raw[order, 0], raw[order, 1]
    keep = np.ones(t.shape, dtype=bool)
    keep[:-1] = t[1:] != t[:-1]          # last of each run of equal t
    return t[keep], v[keep]


def _invalidate(name, v):
    """Return a copy of ``v`` with out-of-range and non-finite values NaN."""
    v = v.copy()
    low, high = VALID_RANGE.get(name, (-math.inf, math.inf))
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(v) | (v < low) | (v > high)
    v[bad] = np.nan
    return v


def _readonly(a):
    a.flags.writeable = False
    return a


class ApexArchive:
    """The APEX weather archive, loaded into memory once.

    Build it with :meth:`load`. The archive never changes after loading; all
    returned arrays are read-only views into it.

    Attributes
    ----------
    timelines : dict of str to numpy.ndarray
        ``{"hourly": t, "minutely": t}``: 1-D float64, seconds since the UNIX
        epoch (UTC), strictly increasing. Only cadences that some file uses.
    fields : dict of str to dict
        ``{name: {"description", "timeline", "type", "units"}}`` for every
        field, as in the ``get_fields`` wire reply.
    values : dict of str to numpy.ndarray
        ``{name: v}``: 1-D float64 aligned with ``timelines[fields[name]
        ["timeline"]]``; NaN where the field has no sample or an implausible
        one.
    """

    def __init__(self, timelines, fields, values):
        self.timelines = timelines
        self.fields = fields
        self.values = values

    @classmethod
    def load(cls, directory):
        """Parse every ``apex_*.dat`` in ``directory`` and build timelines.

        Parameters
        ----------
        directory : str or os.PathLike
            Folder with files ``apex_<field>.dat`` in the format described in
            this module's docstring.

        Returns
        -------
        ApexArchive

        Raises
        ------
        FileNotFoundError
            If ``directory`` holds no ``apex_*.dat`` file.
        ValueError
            If a file's header or rows do not follow the format.
        """
        paths = sorted(glob.glob(os.path.join(os.fspath(directory), "apex_*.dat")))
        if not paths:
            raise FileNotFoundError("no apex_*.dat file in directory %r"
                                    % os.fspath(directory))
        fields, raw = {}, {}
        for path in paths:
            name = _FILE_RE.match(os.path.basename(path)).group("field")
            description, cadence, units = _read_header(path)
            t, v = _read_samples(path)
            fields[name] = {"description": description, "timeline": cadence,
                            "type": "number", "units": units}
            raw[name] = (t, _invalidate(name, v))

        timelines, values = {}, {}
        for tl in sorted({f["timeline"] for f in fields.values()}):
            names = [n for n in fields if fields[n]["timeline"] == tl]
            t = np.unique(np.concatenate([raw[n][0] for n in names]))
            timelines[tl] = _readonly(t)
            for n in names:
                own_t, own_v = raw[n]
                v = np.full(t.shape, np.nan)
                v[np.searchsorted(t, own_t)] = own_v
                values[n] = _readonly(v)
        return cls(timelines, fields, values)

    def _window(self, tl, start, end):
        """Index slice of timeline ``tl`` with ``start <= t < end``."""
        t = self.timelines[tl]
        i = int(np.searchsorted(t, start, side="left"))
        j = int(np.searchsorted(t, end, side="left"))
        return slice(i, max(i, j))

    def get_fields(self, start, end):
        """Describe the fields that have samples in ``[start, end)``.

        Parameters
        ----------
        start, end : float
            Absolute seconds since the UNIX epoch, UTC; ``start`` inclusive,
            ``end`` exclusive. (Relative times are converted by the caller.)

        Returns
        -------
        field : dict
            ``{name: {"description": str, "timeline": "hourly"|"minutely",
            "type": "number", "units": str}}`` for each field whose timeline
            has a sample at ``start <= t < end`` (the field itself may be NaN
            there; the original sisock contract allows listing it, and a
            consumer then gets every field it could ask for).
        timeline : dict
            ``{tl: {"interval": float seconds (3600.0 or 60.0), "field":
            [name, ...], "first": float, "last": float}}`` for the timelines
            of those fields; ``first`` and ``last`` are the times (UNIX
            seconds UTC) of the timeline's oldest and newest samples in the
            archive, whatever the range.
        """
        field, timeline = {}, {}
        for name, meta in self.fields.items():
            t = self.timelines[meta["timeline"]]
            i = np.searchsorted(t, start, side="left")
            if i >= len(t) or not t[i] < end:
                continue
            field[name] = dict(meta)
            tl = meta["timeline"]
            entry = timeline.setdefault(tl, {"interval": INTERVAL[tl], "field": [], "first": float(t[0]),
                                             "last": float(t[-1])})
            entry["field"].append(name)
        return field, timeline

    def get_data(self, fields, start, end):
        """Samples of ``fields`` with ``start <= t < end``.

        Parameters
        ----------
        fields : list of str
            Field names; unknown names are answered with an empty array.
        start, end : float
            Absolute seconds since the UNIX epoch, UTC; ``start`` inclusive,
            ``end`` exclusive. ``end <= start`` gives empty arrays.

        Returns
        -------
        t_by_timeline : dict of str to numpy.ndarray
            ``{tl: t}``, 1-D float64 seconds since the UNIX epoch, strictly
            increasing, for each timeline of a requested known field.
        data : dict of str to numpy.ndarray
            ``{name: v}``, 1-D float64 with ``len(v) == len(t_by_timeline[
            timeline of name])``; NaN where missing or implausible. Empty
            float64 for an unknown name.

        Notes
        -----
        O(log N) per timeline; the arrays are read-only views, not copies.
        """
        if isinstance(fields, str):
            fields = [fields]
        windows, t_by_timeline, data = {}, {}, {}
        for name in fields:
            meta = self.fields.get(name)
            if meta is None:
                data[name] = np.empty(0, dtype=np.float64)
                continue
            tl = meta["timeline"]
            if tl not in windows:
                windows[tl] = self._window(tl, start, end)
                t_by_timeline[tl] = self.timelines[tl][windows[tl]]
            data[name] = self.values[name][windows[tl]]
        return t_by_timeline, data

    def finalized_until(self, tl):
        """Last timestamp of timeline ``tl``; archive data never changes.

        Parameters
        ----------
        tl : str
            A key of :attr:`timelines`.

        Returns
        -------
        float
            Seconds since the UNIX epoch, UTC; NaN for an empty timeline.

        Raises
        ------
        KeyError
            If ``tl`` is not a timeline of this archive.
        """
        t = self.timelines[tl]
        return float(t[-1]) if len(t) else math.nan
