"""Columns of float64 as the bytes of a store row: plain, or compressed with pcodec.

A row of the store file (a compacted block, a summary tier row) holds a few
columns of the same length. `PLAIN` is the columns as one little-endian
float64 matrix of shape ``(length, ncols)``, sample-major like the ``num``
of a recorded block (schema 1's format, and what the writer thread writes
as blocks arrive: no time spent compressing on the hot path): the bytes of
consecutive rows join into one matrix, read with one ``numpy.frombuffer``.
`PCO` compresses each column on its own with pcodec (``pcodec.standalone``)
and prefixes their byte lengths (uint32 each), so that a read decodes only
the columns it needs.

Why pcodec: it is made for numerical columns (it finds the delta order,
the float mode and the bit widths by itself) and decodes a column of 600
values in ~8 µs. Measured per column of 60-sample rows (bytes a value,
headers included; ``docs/architecture.md``, "The store file"):

=========================================  ======  ====================
data                                       pcodec  zstandard 3 (shuffled)
=========================================  ======  ====================
host metrics at 1 Hz, 12 fields and times  3.4     4.0 (3.8)
APEX radiometer (time, value)              2.0     5.5 (4.3)
APEX wind speed (time, value)              1.6     3.0 (2.3)
=========================================  ======  ====================

In 600-sample rows pcodec gives 2.6, 1.2 and 0.7. Of the host metrics, the
disk and network rates (quotients of counters and clock differences, full
precision) take 6-7 bytes a value; the rest 0.05-2.3.

The summary tiers' compacted rows (`sisock.store.tiers`: a day of 60 s
buckets, 8 statistics a number field, ``tmin``/``tmax`` as seconds after
the bucket's start) take, per field and bucket (64 bytes plain): 14.2 on
random walks rounded to 0.1 at 1 Hz (14.3 over the year of such walks,
never repeating, that ``bench.bench_tiers`` builds; 2.0 when its walks
repeated every 20 minutes, which pcodec found), 41.7 on full-precision
noise (the worst case). A column
of 1,440 values decodes in ~12 µs (~3 µs with pcodec's classic mode and no
delta, which takes 2-3 times the bytes here; measured at a load of 1).
"""

import itertools
import struct

import numpy as np
from pcodec import ChunkConfig, standalone

#: The columns' float64 bytes, uncompressed.
PLAIN = 0
#: Each column compressed with pcodec, prefixed with the uint32 lengths.
PCO = 1

_CONFIG = ChunkConfig(compression_level=6)


def pack_columns(columns, codec):
    """The bytes of equal-length float64 ``columns`` (a list of 1-D arrays) in ``codec``.

    Raises
    ------
    ValueError
        For an unknown codec.
    """
    if codec == PLAIN:
        return np.column_stack(columns).astype("<f8", copy=False).tobytes()
    if codec == PCO:
        parts = [standalone.simple_compress(np.ascontiguousarray(c, np.float64), _CONFIG) for c in columns]
        return np.array([len(p) for p in parts], "<u4").tobytes() + b"".join(parts)
    raise ValueError(f"codec must be {PLAIN} or {PCO}, got {codec!r}")


def unpack_columns(blob, ncols, length, codec, which=None):
    """The columns of `pack_columns` bytes.

    Parameters
    ----------
    blob : bytes
    ncols, length : int
        Columns in ``blob`` and values in each.
    codec : int
        `PLAIN` or `PCO`.
    which : list of int, optional
        The columns wanted (all by default), in this order.

    Returns
    -------
    list of numpy.ndarray, float64, shape (length,)
        Read-only for `PLAIN` (views of ``blob``).
    """
    which = range(ncols) if which is None else which
    if codec == PLAIN:
        matrix = np.frombuffer(blob, "<f8", count=ncols * length).reshape(length, ncols)
        return [matrix[:, i] for i in which]
    if not length:
        return [np.empty(0) for _ in which]
    ends = list(itertools.accumulate(struct.unpack_from(f"<{ncols}I", blob), initial=4 * ncols))
    return [standalone.simple_decompress(blob[ends[i]:ends[i + 1]]) for i in which]
