"""The caller's side of a get_data answer, chunked or not (`sisock.wire.chunks`): whole, or row by row.

:class:`Assembler` builds the whole result with NumPy arrays (what
``get_data`` returns); :class:`RowStream` hands it to a callback in
batches of whole rows of each timeline as the chunks arrive, so a caller
can write any range to a file holding no more than a chunk. Both take the
progressive results (``feed``) then the final result (``finish``), and
decode the pieces alike (`sisock.wire.codec`).
"""

import numpy as np

from sisock.wire import codec
from sisock.wire.errors import NodeError

#: Chunks read between two acknowledgements to the node (`_Reader.due_ack`; the node sends 8 ahead).
ACK_EVERY = 2


class _Reader:
    """What `Assembler` and `RowStream` share: the layout, the chunks' pieces, the progress and the checks.

    A subclass places each piece (`_place`), knows where an array stands
    (``_filled``), and may act once a chunk is in (`_chunk_done`). The
    caller acknowledges the chunks read when `due_ack` says so.
    """

    def __init__(self, progress=None):
        self.progress = progress
        self._layout = None
        self._filled = {}   # (kind, name) -> rows received so far
        self._chunks = 0
        self._received = 0
        self._error = None

    @property
    def chunked(self):
        """Whether progressive results came (then `finish` may take a while: decode it in a thread)."""
        return self._layout is not None or self._error is not None

    def feed(self, message):
        """Take one progressive result; a malformed one is remembered and raised by `finish`."""
        if self._error is not None:
            return
        try:
            self._feed(message)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            self._error = exc
            return
        if "chunk" in message and self.progress is not None:
            self.progress(self._received, self._layout["bytes"])

    def due_ack(self):
        """``(token, chunks read)`` to acknowledge to the node now (``consumer.NAME.get_data_ack``), or None:
        after every `ACK_EVERY` chunks of an answer whose layout asked for acknowledgements (``"ack"``)."""
        token = (self._layout or {}).get("ack")
        if token is None or self._error is not None or self._chunks == 0 or self._chunks % ACK_EVERY:
            return None
        return token, self._chunks

    def _feed(self, message):
        if "layout" in message:
            self._layout = message["layout"]
            self._start()
            return
        if self._layout is None:
            raise ValueError("a chunk came before the layout")
        for kind in ("timeline", "data"):
            for name, piece in message.get(kind, {}).items():
                self._place((kind, name), int(piece["offset"]), piece["values"])
        self._chunks += 1
        self._received += int(message["bytes"])
        self._chunk_done()

    def _start(self):
        self._filled = {key: 0 for key, _ in self._specs()}

    def _chunk_done(self):
        pass

    def _check(self, final):
        """Raise `NodeError` unless the chunked answer came whole: every announced chunk, every array full."""
        problem = self._error
        if problem is None and not (final.get("chunks") == self._chunks == self._layout["chunks"]):
            problem = f"got {self._chunks} chunks, announced {self._layout['chunks']}"
        if problem is None:
            missing = [f"{kind} {name!r}" for (kind, name), spec in self._specs()
                       if self._filled[kind, name] != spec["shape"][0]]
            problem = f"incomplete arrays: {', '.join(missing)}" if missing else None
        if problem is not None:
            raise NodeError(f"the node sent a malformed chunked get_data result: {problem}")

    def _specs(self):
        """``((kind, name), spec)`` of every array in the layout."""
        for kind in ("timeline", "data"):
            for name, spec in self._layout[kind].items():
                yield (kind, name), spec["t"] if kind == "timeline" else spec


class Assembler(_Reader):
    """Reassembles a get_data answer, chunked or not, into a result with NumPy arrays.

    Feed it every progressive result (`feed`, e.g. as autobahn's
    ``CallOptions(on_progress=...)``), then the final result (`finish`).

    Parameters
    ----------
    progress : callable or None
        ``progress(received_bytes, total_bytes)``, called after each chunk
        of a chunked answer (not for a one-message result).
    """

    def __init__(self, progress=None):
        super().__init__(progress)
        self._arrays = {}   # (kind, name) -> preallocated ndarray, or a list for list-encoded arrays

    def _start(self):
        super()._start()
        for key, spec in self._specs():
            dtype = spec["dtype"]
            self._arrays[key] = [] if dtype is None else np.empty(spec["shape"], codec.raw_dtype(dtype))

    def _place(self, key, offset, values):
        out = self._arrays[key]
        if isinstance(out, list):
            if offset != len(out):
                raise ValueError(f"{key[0]} {key[1]!r}: samples from {offset} came after {len(out)} samples")
            out.extend(values)
            self._filled[key] = len(out)
            return
        piece = codec.wire_to_array(values)
        if offset < 0 or offset + len(piece) > len(out):
            raise ValueError(f"{key[0]} {key[1]!r}: samples [{offset}, {offset + len(piece)}) out of {len(out)}")
        out[offset:offset + len(piece)] = piece
        self._filled[key] += len(piece)

    def finish(self, final):
        """The result with NumPy arrays, from the call's final result.

        Returns
        -------
        dict
            As :func:`sisock.wire.codec.result_from_wire`; a chunked result's raw
            arrays are writable arrays holding one copy of the data.

        Raises
        ------
        sisock.wire.errors.NodeError
            If a chunked answer was malformed or incomplete.
        """
        if not self.chunked:
            return codec.result_from_wire(final)
        self._check(final)
        data = {name: self._array(("data", name)) for name in self._layout["data"]}
        timeline = {name: dict(spec, t=np.asarray(self._array(("timeline", name)), dtype=np.float64),
                               finalized_until=codec.finalized(spec.get("finalized_until")))
                    for name, spec in self._layout["timeline"].items()}
        return {"data": data, "timeline": timeline}

    def _array(self, key):
        out = self._arrays[key]
        return codec.list_to_array(out) if isinstance(out, list) else out


class RowStream(_Reader):
    """Hands a get_data answer, chunked or not, to ``on_rows`` in batches of whole rows, as they arrive.

    A batch is rows ``[i0, i1)`` of a timeline's ``t`` and of each of its
    fields, handed as soon as every one of those arrays has them; the
    batches of a timeline come in order of rows. A node cuts its chunks
    row-aligned (`sisock.wire.chunks.Plan.cut`), so every chunk completes
    its rows and the stream holds no more than the chunk being read
    (`held_rows`); timelines come one after another. A one-message answer
    (at most one chunk's size) is handed by `finish`, one batch per timeline.

    Parameters
    ----------
    on_rows : callable
        ``on_rows(timeline, t, data)``: ``timeline`` a str, ``t`` float64
        (n,) UNIX seconds UTC, increasing; ``data`` ``{field: ndarray (n,)}``
        decoded as `sisock.wire.codec.wire_to_array` does each piece (a
        list-encoded piece of numbers is float64 with NaN, of strings an
        object array; a raw piece keeps the node's dtype and may be a
        read-only view of the message). Called in the thread that feeds.
    progress : callable or None
        As for :class:`Assembler`.
    timeline_of : dict or None
        ``{field: timeline}``; None (or a field it leaves out) takes the
        timelines' ``field`` lists of the answer. A field on no timeline of
        the answer is not handed (its array must then be empty).
    on_start : callable or None
        ``on_start(timelines)``, once before the first batch, with what
        `finish` returns: each timeline's rows in all, ``finalized_until``
        and fields.
    """

    def __init__(self, on_rows, progress=None, timeline_of=None, on_start=None):
        super().__init__(progress)
        self.on_rows, self.on_start, self.timeline_of = on_rows, on_start, dict(timeline_of or {})
        self._members = {}   # timeline -> its fields
        self._pieces = {}    # (kind, name) -> decoded pieces not handed yet
        self._handed = {}    # timeline -> rows handed so far

    @property
    def held_rows(self):
        """The most rows of one array decoded and not handed yet (what the stream holds in memory)."""
        return max((sum(len(p) for p in pieces) for pieces in self._pieces.values()), default=0)

    def _group(self, timelines, data_rows):
        """``{timeline: [field, ...]}``; ValueError for a field with samples on no timeline or with other rows.

        A field no timeline names goes with the one timeline of as many rows, if there is exactly one.
        """
        members = {tl: [] for tl in timelines}
        for f, rows in data_rows.items():
            tl = self.timeline_of.get(f) or next((t for t, v in timelines.items() if f in v.get("field", ())), None)
            alike = [t for t, v in timelines.items() if v["rows"] == rows]
            tl = tl or (alike[0] if len(alike) == 1 and rows else None)
            if tl in members:
                members[tl].append(f)
            elif rows:
                raise ValueError(f"field {f!r} has {rows} samples on no timeline of the answer")
        for tl, fields in members.items():
            for f in fields:
                if data_rows[f] != timelines[tl]["rows"]:
                    raise ValueError(f"field {f!r} has {data_rows[f]} samples, its timeline {tl!r} "
                                     f"{timelines[tl]['rows']}")
        return members

    def _start(self):
        super()._start()
        timelines = {tl: dict(v, rows=v["t"]["shape"][0]) for tl, v in self._layout["timeline"].items()}
        self._members = self._group(timelines, {f: s["shape"][0] for f, s in self._layout["data"].items()})
        self._pieces = {key: [] for key, _ in self._specs()}
        self._handed = dict.fromkeys(self._members, 0)
        if self.on_start is not None:
            self.on_start(self._summary(self._layout["timeline"]))

    def _place(self, key, offset, values):
        if offset != self._filled[key]:
            raise ValueError(f"{key[0]} {key[1]!r}: samples from {offset} came after {self._filled[key]} samples")
        piece = codec.wire_to_array(values)
        self._filled[key] += len(piece)
        if key[0] == "timeline" or any(key[1] in fields for fields in self._members.values()):
            self._pieces[key].append(piece)

    def _chunk_done(self):
        for tl, fields in self._members.items():
            keys = [("timeline", tl), *(("data", f) for f in fields)]
            ready = min(self._filled[key] for key in keys)
            if ready > self._handed[tl]:
                rows = ready - self._handed[tl]
                t, *values = (self._take(key, rows) for key in keys)
                self._handed[tl] = ready
                self.on_rows(tl, np.asarray(t, dtype=np.float64), dict(zip(fields, values, strict=True)))

    def _take(self, key, rows):
        """The next ``rows`` rows of array ``key``, out of its pieces."""
        pieces, out, n = self._pieces[key], [], 0
        while n < rows:
            piece = pieces.pop(0)
            if n + len(piece) > rows:
                pieces.insert(0, piece[rows - n:])
                piece = piece[:rows - n]
            out.append(piece)
            n += len(piece)
        return out[0] if len(out) == 1 else _concatenate(out)

    def finish(self, final):
        """Hand what is left (a one-message answer: all of it) and say what came.

        Returns
        -------
        dict
            ``{"timeline": {tl: {"rows": int, "finalized_until": float or
            None, "field": [f, ...]}}}``: each timeline's rows in all, and the
            fields handed with it.

        Raises
        ------
        sisock.wire.errors.NodeError
            If a chunked answer was malformed or incomplete, or a field's
            samples match no timeline.
        """
        if self.chunked:
            self._check(final)
            timelines = self._layout["timeline"]
        else:
            result = codec.result_from_wire(final)
            timelines = result["timeline"]
            try:
                self._members = self._group({tl: dict(v, rows=len(v["t"])) for tl, v in timelines.items()},
                                            {f: len(v) for f, v in result["data"].items()})
            except ValueError as exc:
                raise NodeError(f"the node sent a malformed get_data result: {exc}") from None
            if self.on_start is not None:
                self.on_start(self._summary(timelines))
            for tl, fields in self._members.items():
                if len(timelines[tl]["t"]):
                    self.on_rows(tl, timelines[tl]["t"], {f: result["data"][f] for f in fields})
        return self._summary(timelines)

    def _summary(self, timelines):
        """``{"timeline": {tl: {"rows", "finalized_until", "field"}}}`` of the layout's or result's timelines."""
        return {"timeline": {tl: {"rows": v["t"]["shape"][0] if isinstance(v["t"], dict) else len(v["t"]),
                                  "finalized_until": codec.finalized(v.get("finalized_until")),
                                  "field": self._members.get(tl, [])}
                             for tl, v in timelines.items()}}


def _concatenate(pieces):
    """One array of ``pieces``; list-decoded pieces may differ in dtype (all-null float64 among strings)."""
    kinds = {p.dtype.kind for p in pieces}
    if len(kinds) > 1 and kinds & {"O", "b"}:
        pieces = [p.astype(object) for p in pieces]
    return np.concatenate(pieces)
