"""Large get_data results in chunks: WAMP progressive call results, split and reassembled.

The router drops the connection of a session that sends a message over its
``max_message_size`` (16 MiB in the router config, ``sisock/router/config.json``), so a node never
sends a result whose estimated size on the wire is over `MAX_MESSAGE_BYTES`
(8 MiB; ``SISOCK_MAX_MESSAGE_BYTES`` or ``DataNodeServer.max_message_bytes``)
in one message. A caller that asked for progressive results
(``receive_progress``; the sisock client always does) gets any result over
`CHUNK_BYTES` (1 MiB; ``SISOCK_CHUNK_BYTES`` or
``DataNodeServer.chunk_bytes``) in chunks of about that size, which node,
router and caller work on at the same time; any other caller gets a result
over `MAX_MESSAGE_BYTES` as ``org.simonsobservatory.error.too_large``,
naming the limit and how to ask for less.

A chunked answer is, in this order:

1. one progressive result ``{"layout": {"data": {f: spec}, "timeline": {tl:
   {"t": spec, "finalized_until": float or None, "field": [f, ...]}}, "chunks":
   K, "bytes": B}}`` (a timeline's other keys, such as ``field``, as in the result)
   where ``spec = {"dtype": "<f8", "shape": [N]}`` for an array that comes
   as raw bytes and ``{"dtype": None, "shape": [N]}`` for one that comes as
   lists (`sisock.wire.codec`); a node adds ``"ack": token``, the name its
   caller acknowledges the chunks read with (`sisock.node.pacing`);
2. ``K`` progressive results ``{"chunk": i, "bytes": b, "data": {f:
   {"offset": i0, "values": v}}, "timeline": {tl: {"offset": i0, "values":
   t}}}``, each carrying consecutive samples ``[i0, i0 + len)`` of some of
   the arrays, encoded as in a one-message result; ``b`` is their estimated
   size and the ``b`` add up to ``B``. Rows are aligned: a chunk carries
   the same rows ``[i0, i1)`` of a timeline's ``t`` and of every field its
   ``field`` lists, or none of them; timelines come one after another (then
   any array of no timeline), and each array's pieces in order of offset;
3. the final result ``{"chunks": K, "bytes": B}``.

A result that is not chunked is the plain one-message result of
:func:`sisock.wire.codec.result_to_wire`. On the caller's side
(`sisock.wire.assembly`), :class:`Assembler` turns either back into a
result with NumPy arrays, writing raw chunks into preallocated arrays, and
:class:`RowStream` hands it over in batches of whole rows as the chunks
arrive, holding no more than a chunk.

Everything queued ahead of a WebSocket ping must reach the caller and be
decoded before the ping timeout of the router (3 s), or the router drops
the caller: a slow link or a slow decoder (JSON in Python decodes about
15 MB/s) bounds the result one call should ask for.
"""

import math

import numpy as np

from sisock import config
from sisock.wire import codec
from sisock.wire.assembly import Assembler, RowStream
from sisock.wire.errors import TooLarge

__all__ = ["CHUNK_BYTES", "MAX_MESSAGE_BYTES", "MIN_CHUNK_BYTES", "Assembler", "Plan", "RowStream", "answer",
           "limits"]

#: Default size of one chunk of a progressive get_data answer, bytes.
CHUNK_BYTES = 1024 * 1024
#: Default most bytes of a get_data result sent as one message: half the
#: router's ``max_message_size`` (16 MiB), room for estimates that run short.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
#: Smallest accepted limit.
MIN_CHUNK_BYTES = 4096
#: Estimated bytes on the wire of one list element: a MessagePack / CBOR
#: number, a bool or null, and the framing of a string.
_NUMBER_BYTES, _BOOL_BYTES, _STRING_BYTES = 9, 1, 5
#: Estimated bytes of a message's envelope and of each array's keys in it.
_ENVELOPE_BYTES, _KEY_BYTES = 1024, 64


def _mib(n):
    return f"{n / 2**20:.3g} MiB" if n >= 2**20 else f"{n / 2**10:.3g} KiB"


def limits(chunk_bytes=None, max_message_bytes=None):
    """``(chunk_bytes, max_message_bytes)``: the arguments, else the environment, else the defaults.

    Parameters
    ----------
    chunk_bytes, max_message_bytes : int or None
        None reads ``SISOCK_CHUNK_BYTES`` / ``SISOCK_MAX_MESSAGE_BYTES``,
        falling back to `CHUNK_BYTES` / `MAX_MESSAGE_BYTES`.

    Raises
    ------
    ValueError
        If a limit is not an integer >= `MIN_CHUNK_BYTES`.
    """
    out = []
    for value, name, default in ((chunk_bytes, "CHUNK_BYTES", CHUNK_BYTES),
                                 (max_message_bytes, "MAX_MESSAGE_BYTES", MAX_MESSAGE_BYTES)):
        value = config.env(name, default) if value is None else value
        try:
            number = int(value)
        except ValueError:
            number = 0
        if number < MIN_CHUNK_BYTES:
            raise ValueError(f"SISOCK_{name} must be an integer >= {MIN_CHUNK_BYTES}, got {value!r}")
        out.append(number)
    return tuple(out)


def _costs(a, encoding):
    """Estimated wire bytes of each row of ``a``: one int for all rows alike, else an int64 array (N,)."""
    row = math.prod(a.shape[1:]) if a.ndim > 1 else 1
    if codec.is_raw(a, encoding):
        return a.dtype.itemsize * row
    kind = a.dtype.kind
    if kind in "biuf":
        return (_BOOL_BYTES if kind == "b" else _NUMBER_BYTES) * row
    if kind == "U":
        a = np.char.encode(a, "utf-8")
    if a.dtype.kind == "S":
        sizes = np.char.str_len(a) + _STRING_BYTES
    else:
        sizes = np.fromiter((len(str(x).encode()) + _STRING_BYTES if isinstance(x, (str, bytes)) else _NUMBER_BYTES
                             for x in a.ravel()), np.int64, a.size)
    return sizes if a.ndim == 1 else sizes.reshape(len(a), -1).sum(axis=1)


class Plan:
    """How a get_data result goes on the wire: its estimated size, and which samples go in which chunk.

    Parameters
    ----------
    result : dict
        ``{"data": {f: ndarray (N_f,)}, "timeline": {tl: {"t": ndarray (N_tl,),
        "finalized_until": float or None}}}`` (UNIX seconds UTC).
    encoding : {"list", "binary"}
        See `sisock.wire.codec`.

    Attributes
    ----------
    bytes : int
        Estimated size on the wire of every array together.
    message_bytes : int
        Estimated size of the result as one message.
    chunks : list of list
        After `cut`: per chunk, its pieces ``(kind, name, lo, hi, size)``,
        samples ``[lo, hi)`` of ``result[kind][name]``, about ``size`` bytes.
    """

    def __init__(self, result, encoding):
        self.result, self.encoding = result, encoding
        self.arrays = [("timeline", tl, np.asarray(v.get("t", ()), dtype=np.float64))
                       for tl, v in result.get("timeline", {}).items()]
        self.arrays += [("data", f, np.asarray(v)) for f, v in result.get("data", {}).items()]
        self.costs, self.bytes, self.overhead = [], 0, _ENVELOPE_BYTES
        for _, name, a in self.arrays:
            cost = _costs(a, encoding)
            self.costs.append(cost)
            self.bytes += cost * len(a) if isinstance(cost, int) else int(cost.sum())
            self.overhead += len(name) + _KEY_BYTES
        self.message_bytes = self.bytes + self.overhead
        self.chunks = []

    def cut(self, chunk_bytes):
        """Split the samples into `chunks` of at most ``chunk_bytes`` each (a single larger row goes alone).

        Each timeline's ``t`` and its fields (those its ``field`` lists, of as
        many samples) are cut together: a chunk carries the same rows
        ``[i0, i1)`` of all of them. Timelines come one after another, then
        any array of no timeline.
        """
        self.chunks = self._cut(max(chunk_bytes - self.overhead, 1))

    def _groups(self):
        """Indices into `arrays` of the arrays cut together: each timeline's ``t`` and fields, then the rest alone."""
        index = {(kind, name): i for i, (kind, name, _) in enumerate(self.arrays)}
        groups, grouped = [], set()
        for tl, info in self.result.get("timeline", {}).items():
            group = [index["timeline", tl]]
            for f in info.get("field", ()):
                i = index.get(("data", f))
                if i is not None and i not in grouped and len(self.arrays[i][2]) == len(self.arrays[group[0]][2]):
                    group.append(i)
                    grouped.add(i)
            groups.append(group)
        grouped.update(g[0] for g in groups)
        return groups + [[i] for i in range(len(self.arrays)) if i not in grouped]

    def _cut(self, budget):
        chunks, room = [[]], budget
        for group in self._groups():
            costs = [self.costs[i] for i in group]
            rows = len(self.arrays[group[0]][2])
            cost = sum(costs) if all(isinstance(c, int) for c in costs) else None
            cum = None if cost is not None else np.cumsum(sum(np.broadcast_to(c, rows) for c in costs))
            pos = 0
            while pos < rows:
                base = 0 if cum is None or pos == 0 else int(cum[pos - 1])
                if cum is None:
                    fit = room // cost if cost else rows
                else:
                    fit = int(np.searchsorted(cum, base + room, side="right")) - pos
                fit = max(min(fit, rows - pos), 0)
                if fit == 0 and chunks[-1]:
                    chunks.append([])
                    room = budget
                    continue
                fit = max(fit, 1)  # a single row larger than a chunk goes alone
                for i, c in zip(group, costs, strict=True):
                    kind, name, _ = self.arrays[i]
                    size = fit * c if isinstance(c, int) else int(c[pos:pos + fit].sum())
                    chunks[-1].append((kind, name, pos, pos + fit, size))
                room -= fit * cost if cum is None else int(cum[pos + fit - 1]) - base
                pos += fit
        return [c for c in chunks if c]

    def layout(self):
        """The first progressive result: shapes, dtypes and sizes (see the module docstring)."""
        specs = {"data": {}, "timeline": {}}
        for kind, name, a in self.arrays:
            dtype = a.dtype.newbyteorder("<").str if codec.is_raw(a, self.encoding) else None
            specs[kind][name] = {"dtype": dtype, "shape": list(a.shape)}
        timeline = {}
        for tl, spec in specs["timeline"].items():
            info = self.result["timeline"][tl]
            timeline[tl] = dict(info, t=spec, finalized_until=codec.finalized(info.get("finalized_until")))
        return {"layout": {"data": specs["data"], "timeline": timeline, "chunks": len(self.chunks),
                           "bytes": self.bytes}}

    def messages(self):
        """Yield the progressive results after the layout, one chunk each, built as they are needed."""
        arrays = {(kind, name): a for kind, name, a in self.arrays}
        for i, pieces in enumerate(self.chunks):
            message = {"chunk": i, "bytes": sum(p[4] for p in pieces), "data": {}, "timeline": {}}
            for kind, name, lo, hi, _ in pieces:
                values = codec.array_to_wire(arrays[kind, name][lo:hi], self.encoding)
                message[kind][name] = {"offset": lo, "values": values}
            yield message

    def summary(self):
        """The final result of a chunked answer."""
        return {"chunks": len(self.chunks), "bytes": self.bytes}

    def too_large(self, limit, span):
        """`TooLarge` for a caller that did not ask for progressive results.

        Parameters
        ----------
        limit : int
            The most bytes of one message.
        span : float
            Seconds of the requested range, to suggest a ``min_stride``.
        """
        rows = max((len(a) for kind, _, a in self.arrays if kind == "timeline"), default=0)
        hint = ""
        if rows and span > 0:
            stride = span * self.message_bytes / (0.8 * limit) / rows
            hint = f" or a min_stride of at least {stride:.3g} s"
        return TooLarge(
            f"get_data result of about {_mib(self.message_bytes)} is over the {_mib(limit)} limit of one "
            f"message (SISOCK_MAX_MESSAGE_BYTES); ask for a shorter range{hint}, or for progressive "
            f"results (receive_progress; sisock.Client does) to get it in chunks")


def answer(result, encoding, send=None, span=0.0, chunk_bytes=None, max_message_bytes=None):
    """Deliver a get_data result: one message, or chunks through ``send``.

    Parameters
    ----------
    result : dict
        As for :class:`Plan`.
    encoding : {"list", "binary"}
    send : callable or None
        ``send(message)`` sends one progressive result, in order; None when
        the caller did not ask for progressive results.
    span : float
        Seconds of the requested range (for the hint of `TooLarge`).
    chunk_bytes, max_message_bytes : int or None
        See :func:`limits`.

    Returns
    -------
    dict
        The call's result: :func:`sisock.wire.codec.result_to_wire` of
        ``result`` when it goes as one message (up to ``chunk_bytes`` with
        ``send``, up to ``max_message_bytes`` without), else (after sending
        the layout and every chunk) the summary ``{"chunks": K, "bytes": B}``.

    Raises
    ------
    sisock.wire.errors.TooLarge
        If ``send`` is None and the result is over ``max_message_bytes``.
    """
    plan = Plan(result, encoding)
    if plan.message_bytes <= MIN_CHUNK_BYTES:  # within any limit: the limits need not be read
        return codec.result_to_wire(result, encoding)
    chunk_bytes, max_message_bytes = limits(chunk_bytes, max_message_bytes)
    if plan.message_bytes <= (max_message_bytes if send is None else chunk_bytes):
        return codec.result_to_wire(result, encoding)
    if send is None:
        raise plan.too_large(max_message_bytes, span)
    plan.cut(chunk_bytes)
    send(plan.layout())
    for message in plan.messages():
        send(message)
    return plan.summary()
