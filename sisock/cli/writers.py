"""Files that ``sisock get --parquet`` and ``--netcdf`` write batch by batch (`sisock.cli.export` drives them).

Both take a timeline's rows as they arrive (``write``), hold at most
`ROW_GROUP_ROWS` rows, and keep what a reader needs to know: times as UTC
timestamps, each field's units, description, type and timeline, and the
node, range and ``min_stride`` of the read.

- :class:`ParquetOut`: one Parquet file of one timeline (pyarrow), columns
  ``time`` (``timestamp[ns, UTC]``) then the fields; row groups of the
  batches gathered until they hold `ROW_GROUP_ROWS` rows (the last one
  may hold fewer), zstd; a missing value is a null.
- :class:`NetcdfOut`: one NetCDF-4 file of every timeline (h5netcdf), for
  xarray: per timeline an unlimited dimension and coordinate
  ``time_<timeline>``, float64 seconds with the CF units
  ``seconds since 1970-01-01 00:00:00 UTC``; a missing number is NaN.

Their methods run in one worker thread, one after another; the libraries
are imported when a file is opened (`MissingLibrary` if they are not installed).
"""

import json

import numpy as np

#: Rows gathered before a Parquet row group is written.
ROW_GROUP_ROWS = 65536
#: CF units of NetCDF time coordinates (xarray decodes them to datetime64).
CF_TIME_UNITS = "seconds since 1970-01-01 00:00:00 UTC"


class MissingLibrary(Exception):
    """A file format's library is not installed; the message says which extra brings it."""


def require(what):
    """The libraries of format ``what`` (``"parquet"`` or ``"netcdf"``); `MissingLibrary` names the extra."""
    extra = what
    try:
        if what == "parquet":
            import pyarrow
            import pyarrow.parquet
            return pyarrow, pyarrow.parquet
        import h5netcdf
        import h5py
        return h5netcdf, h5py
    except ImportError as exc:
        raise MissingLibrary(f"--{what} needs {exc.name or 'a library'} (pip install 'sisock[{extra}]')") from None


def utc_ns(t):
    """Nanoseconds since the epoch (int64) nearest to ``t`` (float64 UNIX seconds UTC), without the float
    rounding of ``t * 1e9``."""
    t = np.asarray(t, dtype=np.float64)
    whole = np.floor(t)
    return whole.astype(np.int64) * 1_000_000_000 + np.round((t - whole) * 1e9).astype(np.int64)


def _missing(values):
    """Mask of missing values (NaN or None) of ``values``."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype == object:
        return np.array([v is None or (isinstance(v, float) and v != v) for v in values], dtype=bool)
    return np.zeros(len(values), dtype=bool)


class ParquetOut:
    """One timeline's rows into a Parquet file.

    Parameters
    ----------
    path : str
        The file to write (a temporary name: `sisock.cli.export` renames it once complete).
    timeline : str
    fields : dict
        ``{field: {"type": "number"|"string"|"bool", "units", "description"}}`` in column order.
    info : dict
        JSON-able facts of the read, kept as the schema's ``sisock`` metadata.
    """

    def __init__(self, path, timeline, fields, info):
        self.pa, self.pq = require("parquet")
        self.path, self.timeline, self.fields, self.info = path, timeline, fields, info
        self.rows, self._writer, self._held = 0, None, []

    def _schema(self, data):
        """The schema, from the fields' types and the first batch's dtypes (an int field stays int)."""
        pa = self.pa
        columns = [pa.field("time", pa.timestamp("ns", tz="UTC"), nullable=False,
                            metadata={"description": f"time of the sample, timeline {self.timeline}"})]
        for f, meta in self.fields.items():
            kind = getattr(data.get(f), "dtype", np.dtype(float)).kind
            typ = {"string": pa.string(), "bool": pa.bool_()}.get(meta.get("type"))
            typ = typ or (pa.from_numpy_dtype(data[f].dtype) if kind in "iu" else pa.float64())
            extra = {k: str(meta[k]) for k in ("units", "description", "type") if meta.get(k) is not None}
            columns.append(pa.field(f, typ, metadata=dict(extra, timeline=self.timeline)))
        return pa.schema(columns, metadata={"sisock": json.dumps(self.info)})

    def _open(self, schema):
        """Start the file: zstd, dictionaries for string columns only (unique floats and times defeat them)."""
        strings = [f for f, meta in self.fields.items() if meta.get("type") == "string"]
        self._writer = self.pq.ParquetWriter(self.path, schema, compression="zstd", use_dictionary=strings)

    def write(self, timeline, t, data):
        """Add rows: ``t`` float64 (n,) UNIX seconds UTC, ``data`` ``{field: ndarray (n,)}``."""
        if self._writer is None:
            self._open(self._schema(data))
        pa, schema = self.pa, self._writer.schema
        columns = [self._numbers(schema.field("time").type, utc_ns(t), np.zeros(len(t), dtype=bool))]
        for f in self.fields:
            values, typ = data[f], schema.field(f).type
            if values.dtype.kind in "iuf" and (pa.types.is_floating(typ) or pa.types.is_integer(typ)):
                columns.append(self._numbers(typ, values, _missing(values)))
            else:   # a batch of no value comes as float64 NaN whatever the field's type: the mask hides it
                missing = _missing(values)
                if pa.types.is_string(typ) and values.dtype.kind != "O":
                    values = values.astype(str).astype(object)
                columns.append(pa.array(values, type=typ, mask=missing))
        self._held.append(pa.Table.from_arrays(columns, schema=schema))
        self.rows += len(t)
        if sum(len(b) for b in self._held) >= ROW_GROUP_ROWS:
            self._flush()

    def _numbers(self, typ, values, missing):
        """An Arrow array of ``typ`` on the bytes of ``values`` (a null where ``missing``), built from its
        buffers: ``pa.array`` of a NumPy array would import pandas, a second of the command's start."""
        pa = self.pa
        dtype = np.float64 if pa.types.is_floating(typ) else np.int64   # int64 also under timestamps
        dtype = np.dtype(str(typ)) if pa.types.is_integer(typ) else dtype
        values = np.ascontiguousarray(values, dtype=dtype)
        nulls = int(missing.sum())
        validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if nulls else None
        return pa.Array.from_buffers(typ, len(values), [validity, pa.py_buffer(values)], null_count=nulls)

    def _flush(self):
        if self._held:
            self._writer.write_table(self.pa.concat_tables(self._held), row_group_size=1 << 30)
            self._held = []

    def close(self):
        """Write what is held and close the file (a file of no rows keeps its columns)."""
        if self._writer is None:
            self._open(self._schema({}))
        self._flush()
        self._writer.close()

    def abort(self):
        """Close without finishing (the file is removed after)."""
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # noqa: S110 - a half-written file that is removed next
                pass


class NetcdfOut:
    """Every timeline's rows into one NetCDF-4 file (see the module docstring for the layout).

    Parameters
    ----------
    path : str
        The file to write (a temporary name).
    timelines : dict
        ``{timeline: {"fields": {field: meta}, "interval": seconds or None}}``;
        ``meta`` as for :class:`ParquetOut`.
    info : dict
        Facts of the read, kept as global attributes ``sisock_<key>`` (JSON for non-scalars).
    """

    def __init__(self, path, timelines, info):
        self.h5netcdf, self.h5py = require("netcdf")
        self.path, self.timelines, self.info, self.rows = path, timelines, info, dict.fromkeys(timelines, 0)
        self.file, self._made = None, set()

    def _open(self):
        self.file = self.h5netcdf.File(self.path, "w")
        self.file.attrs.update({"Conventions": "CF-1.8", "source": "sisock get"})
        for key, value in self.info.items():
            if value is not None:
                self.file.attrs[f"sisock_{key}"] = value if isinstance(value, (str, int, float)) else json.dumps(value)

    @staticmethod
    def dimension(timeline):
        """The dimension and coordinate variable of ``timeline``."""
        return f"time_{timeline}"

    def _make(self, timeline, data):
        """Create the dimension and variables of ``timeline`` (an int field stays int, a bool is 0/1/NaN)."""
        dim, spec = self.dimension(timeline), self.timelines[timeline]
        self.file.dimensions[dim] = None
        chunks = (min(ROW_GROUP_ROWS, 8192),)
        time = self.file.create_variable(dim, (dim,), "f8", chunks=chunks)
        time.attrs.update({"units": CF_TIME_UNITS, "calendar": "standard", "standard_name": "time",
                           "long_name": f"time of the sample, timeline {timeline}", "sisock_timeline": timeline})
        for key in ("interval", "finalized_until"):
            if spec.get(key) is not None:
                time.attrs[f"sisock_{key}"] = spec[key]
        for f, meta in spec["fields"].items():
            kind = getattr(data.get(f), "dtype", np.dtype(float)).kind
            if meta.get("type") == "string":
                var = self.file.create_variable(f, (dim,), self.h5py.string_dtype(), chunks=chunks)
            elif kind in "iu" and meta.get("type") != "bool":
                var = self.file.create_variable(f, (dim,), data[f].dtype, chunks=chunks)
            else:
                var = self.file.create_variable(f, (dim,), "f8", chunks=chunks, fillvalue=np.nan)
            if meta.get("type") == "bool":
                var.attrs.update({"flag_values": np.array([0.0, 1.0]), "flag_meanings": "false true"})
            var.attrs.update({k if k != "description" else "long_name": str(meta[k])
                              for k in ("units", "description") if meta.get(k) is not None})
            var.attrs.update({"sisock_type": meta.get("type") or "number", "sisock_timeline": timeline})
        self._made.add(timeline)

    def write(self, timeline, t, data):
        """Append rows of ``timeline``: ``t`` float64 (n,) UNIX seconds UTC, ``data`` ``{field: ndarray (n,)}``."""
        if self.file is None:
            self._open()
        if timeline not in self._made:
            self._make(timeline, data)
        dim, n, k = self.dimension(timeline), self.rows[timeline], len(t)
        self.file.resize_dimension(dim, n + k)
        self.file.variables[dim][n:n + k] = np.asarray(t, dtype=np.float64)
        for f, meta in self.timelines[timeline]["fields"].items():
            var, values = self.file.variables[f], data[f]
            missing = _missing(values)
            if meta.get("type") == "string":
                values = np.array(["" if m else str(v) for v, m in zip(values, missing, strict=True)], dtype=object)
            elif var.dtype.kind == "f":
                values = np.where(missing, np.nan, values.astype(object) if values.dtype == object else values)
                values = values.astype(np.float64)
            var[n:n + k] = values
        self.rows[timeline] = n + k

    def close(self):
        """Create the timelines that had no rows, and close the file."""
        if self.file is None:
            self._open()
        for timeline in self.timelines:
            if timeline not in self._made:
                self._make(timeline, {})
        self.file.close()

    def abort(self):
        """Close without finishing (the file is removed after)."""
        try:
            if self.file is not None:
                self.file.close()
        except Exception:  # noqa: S110 - a half-written file that is removed next
            pass
