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
   lists (`sisock.wire.codec`);
2. ``K`` progressive results ``{"chunk": i, "bytes": b, "data": {f:
   {"offset": i0, "values": v}}, "timeline": {tl: {"offset": i0, "values":
   t}}}``, each carrying consecutive samples ``[i0, i0 + len)`` of some of
   the arrays, encoded as in a one-message result; ``b`` is their estimated
   size and the ``b`` add up to ``B``;
3. the final result ``{"chunks": K, "bytes": B}``.

A result that is not chunked is the plain one-message result of
:func:`sisock.wire.codec.result_to_wire`. :class:`Assembler` turns either back
into a result with NumPy arrays, writing raw chunks into preallocated arrays.

Everything queued ahead of a WebSocket ping must reach the caller and be
decoded before the ping timeout of the router (3 s), or the router drops
the caller: a slow link or a slow decoder (JSON in Python decodes about
15 MB/s) bounds the result one call should ask for.
"""

import math

import numpy as np

from sisock import config
from sisock.wire import codec
from sisock.wire.errors import NodeError, TooLarge

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
        """Split the samples into `chunks` of at most ``chunk_bytes`` each (a single larger row goes alone)."""
        self.chunks = self._cut(self.costs, max(chunk_bytes - self.overhead, 1))

    def _cut(self, costs, budget):
        chunks, room = [[]], budget
        for (kind, name, a), cost in zip(self.arrays, costs, strict=True):
            cum = None if isinstance(cost, int) else np.cumsum(cost)
            pos = 0
            while pos < len(a):
                base = 0 if cum is None or pos == 0 else int(cum[pos - 1])
                if cum is None:
                    fit = room // cost if cost else len(a)
                else:
                    fit = int(np.searchsorted(cum, base + room, side="right")) - pos
                fit = max(min(fit, len(a) - pos), 0)
                if fit == 0 and chunks[-1]:
                    chunks.append([])
                    room = budget
                    continue
                fit = max(fit, 1)  # a single row larger than a chunk goes alone
                size = fit * cost if cum is None else int(cum[pos + fit - 1]) - base
                chunks[-1].append((kind, name, pos, pos + fit, size))
                room -= size
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


class Assembler:
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
        self.progress = progress
        self._layout = None
        self._arrays = {}   # (kind, name) -> preallocated ndarray, or a list for list-encoded arrays
        self._filled = {}   # (kind, name) -> rows written so far
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

    def _feed(self, message):
        if "layout" in message:
            self._start(message["layout"])
            return
        if self._layout is None:
            raise ValueError("a chunk came before the layout")
        for kind in ("timeline", "data"):
            for name, piece in message.get(kind, {}).items():
                self._place((kind, name), int(piece["offset"]), piece["values"])
        self._chunks += 1
        self._received += int(message["bytes"])

    def _start(self, layout):
        self._layout = layout
        for key, spec in self._specs():
            dtype = spec["dtype"]
            self._arrays[key] = [] if dtype is None else np.empty(spec["shape"], codec.raw_dtype(dtype))
            self._filled[key] = 0

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
        if self._layout is None and self._error is None:
            return codec.result_from_wire(final)
        problem = self._error
        if problem is None and not (final.get("chunks") == self._chunks == self._layout["chunks"]):
            problem = f"got {self._chunks} chunks, announced {self._layout['chunks']}"
        if problem is None:
            missing = [f"{kind} {name!r}" for (kind, name), spec in self._specs()
                       if self._filled[kind, name] != spec["shape"][0]]
            problem = f"incomplete arrays: {', '.join(missing)}" if missing else None
        if problem is not None:
            raise NodeError(f"the node sent a malformed chunked get_data result: {problem}")
        data = {name: self._array(("data", name)) for name in self._layout["data"]}
        timeline = {name: dict(spec, t=np.asarray(self._array(("timeline", name)), dtype=np.float64),
                               finalized_until=codec.finalized(spec.get("finalized_until")))
                    for name, spec in self._layout["timeline"].items()}
        return {"data": data, "timeline": timeline}

    def _specs(self):
        """``((kind, name), spec)`` of every array in the layout."""
        for kind in ("timeline", "data"):
            for name, spec in self._layout[kind].items():
                yield (kind, name), spec["t"] if kind == "timeline" else spec

    def _array(self, key):
        out = self._arrays[key]
        return codec.list_to_array(out) if isinstance(out, list) else out
