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
the float mode and the bit widths by itself) and decodes a column of 1000
values in ~10 µs. Measured on real and recorded data (``docs/architecture.md``,
"compression"): the host metrics of a sensors node at 1 Hz and the APEX weather
archive compress to ~1-2 bytes a value, where zstandard (level 3) over the
same columns, byte-shuffled or not, gives 2-3x more.
"""

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
    sizes = np.frombuffer(blob, "<u4", count=ncols)
    ends = 4 * ncols + np.cumsum(sizes)
    return [standalone.simple_decompress(blob[ends[i] - sizes[i]:ends[i]]) if length else np.empty(0)
            for i in which]
