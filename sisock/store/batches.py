"""The blocks of a batch the writer thread commits, as rows (`sisock.store.sqlite.SqliteLog`).

A batch is every block queued since the last commit (tens to thousands when
a node records fast). Encoding and inserting each block on its own costs
the writer thread (and the recording thread, through the interpreter lock)
more than the samples themselves; the consecutive blocks of a timeline are
joined instead (`runs`, `joined`) and cut into rows as compaction would
join them (`rows`), so a batch costs a few numpy operations and an insert
per minute of samples, not per block.
"""

import numpy as np

from sisock.store import compaction
from sisock.store.buffer import FIELD_TYPES


def runs(batch):
    """``[(timeline, ((field, type), ...), [(t, data), ...]), ...]``: the batch's consecutive blocks of each
    timeline with the same fields, in order."""
    found = {}
    for _, timeline, t, data, kinds, _ in batch:
        fields = tuple((f, kinds[f]) for f in data)
        mine = found.setdefault(timeline, [])
        if mine and mine[-1][0] == fields:
            mine[-1][1].append((t, data))
        else:
            mine.append((fields, [(t, data)]))
    return [(timeline, fields, parts) for timeline, mine in found.items() for fields, parts in mine]


def rows(parts):
    """Slices of the joined samples of blocks ``[(t, data), ...]``, one a row: consecutive blocks that start
    in the same `compaction.SPAN` (at most `compaction.MOST_SAMPLES` samples), the newest block alone."""
    out, start, at, span, count = [], 0, 0, None, 0
    for i, (t, _) in enumerate(parts):
        here = t[0] // compaction.SPAN
        if i and (here != span or count + len(t) > compaction.MOST_SAMPLES or i == len(parts) - 1):
            out.append(slice(start, at))
            start, count = at, 0
        span, count, at = here, count + len(t), at + len(t)
    return [*out, slice(start, at)]


def joined(parts, kinds):
    """One ``(t, data)`` of consecutive blocks ``[(t, data), ...]``, every field of ``kinds`` filled."""
    if len(parts) == 1 and set(parts[0][1]) == set(kinds):
        return parts[0]
    t = np.concatenate([p[0] for p in parts])
    data = {}
    for name, kind in kinds.items():
        if all(name in d for _, d in parts):
            data[name] = np.concatenate([d[name] for _, d in parts])
            continue
        dtype, fill = FIELD_TYPES[kind]
        data[name] = np.concatenate([d[name] if name in d else np.full(len(pt), fill, dtype) for pt, d in parts])
    return t, data
