"""The pixel node: an RGB LED display (`nodes.pixels.display.Display`) served on the router.

Display ``NAME`` (the node name, ``pixels`` by default; one process per
display) answers, under ``consumer.NAME.``:

procedures (acknowledged: the answer comes once the change is recorded
in the store file, and, with ``show`` true, once its frame is shown)
    ``set(color, key=None, index=None, x=None, y=None, show=True)``,
    ``fill(color, show=True)``, ``clear(show=True)``,
    ``set_frame(frame, show=True)``, ``brightness(value)``,
    ``release(key, show=True)``, ``show()``, ``describe(about="", legend=None)``
    (what the display shows, what its colours mean), ``get_state(t=None)``
    (now, or the frame shown at time ``t``) and ``snapshot(scale=16)``
    (a PNG image). The procedures that change the display answer only
    authenticated sessions, nodes (devices joined with the node secret)
    and admins (`CHANGERS`); an anonymous consumer gets
    ``org.simonsobservatory.error.not_authorized`` and may only read
    (``get_state``, ``snapshot``, ``get_data``...). Bad arguments raise
    ``org.simonsobservatory.error.invalid_argument`` and change nothing.
topics (fire and forget)
    ``set``, ``fill``, ``clear``, ``set_frame``, ``brightness``,
    ``release`` and ``show`` with the same arguments. The router lets only
    sessions joined as node ``NAME`` publish there (`sisock.router.auth`:
    a node publishes under its own name only; consumers and admins
    publish nowhere), i.e. trusted drivers holding the node secret. A
    malformed event is logged and dropped.
``consumer.NAME.frame``
    One event per frame shown: ``{"seq", "t", "width", "height",
    "brightness", "rgb": bytes (height * width * 3, row-major RGB),
    "pixels": [[[r, g, b], ...], ...], "about", "legend"}``, raw bytes for
    binary subscribers and nested lists for JSON ones.

Frames are capped at ``--fps``: commands between two frames coalesce
into one. The same handlers are ``@command`` s (``sisock call NAME set
...``, admins), plus ``save_png(path)`` that writes a snapshot file on
the node's host.

Recorded (``get_fields``/``get_data``, and restored on restart from the
store file): timeline ``frame`` (one sample per frame or change: the
frame and pending frame as hex, the key map as JSON, brightness, frame
number, and ``pNNNN`` = colour of pixel NNNN as ``0xRRGGBB`` for displays
of up to `PIXEL_FIELDS_MAX` pixels), ``rate`` (``fps``,
``commands_per_s``, every second) and ``command`` (the command log).
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
from twisted.internet import defer, task, threads

from nodes.pixels.display import Display
from nodes.pixels.legend import parse_description
from nodes.pixels.options import make_output
from nodes.pixels.outputs import png
from sisock.node import DataNodeServer, procedure
from sisock.node.commands import command
from sisock.node.failures import log_failure
from sisock.wire import uri, validate
from sisock.wire.errors import InvalidArgument

FRAME, RATE, LOG = "frame", "rate", "command"
#: Commands that change the display: procedures and topics.
CHANGES = ("set", "fill", "clear", "set_frame", "brightness", "release", "show")
#: Caller roles that may call the procedures that change the display: authenticated devices, admins, operators.
CHANGERS = ("admin", "operator", "node")
#: Displays of more pixels than this record no per-pixel fields (the ``frame`` field has them all).
PIXEL_FIELDS_MAX = 1024
#: Frame periods a frame may come before it is due, the average staying at ``--fps`` (a leaky bucket):
#: commands paced at the frame rate are then shown at once, not held back by timer jitter.
EARLY = 0.5
#: How far back `PixelsNode.get_state` looks for the frame at a time, in widening windows (seconds).
LOOKBACK = (60.0, 3600.0, 86400.0, float("inf"))


class PixelsNode(DataNodeServer):
    """Serve an RGB LED display: pixels by key, index or x,y; frames live, recorded and replayed."""

    name = "pixels"
    description = "RGB LED display: set pixels by key, index or x,y; live frames, replay of what was shown"

    def __init__(self, config=None):
        super().__init__(config)
        args = (self.config.extra or {}).get("args")
        self.description = getattr(args, "description", None) or self.description
        self.display = Display(getattr(args, "width", 8), getattr(args, "height", 8),
                               getattr(args, "allocation", "linear"), getattr(args, "key_map", None),
                               getattr(args, "seed", None))
        self.fps = getattr(args, "fps", 30.0)
        self.output = make_output(args)
        self.seq = 0
        self.about, self.legend = "", {}  # describe(): what the display shows, what its colours mean
        self._shown_t = 0.0             # t of the last recorded frame sample
        self._due = 0.0                 # time.monotonic() when the next frame is due at the capped rate
        self._tick_call = None          # DelayedCall of the next frame
        self._show_wanted = self._output_wanted = False
        self._log_t = 0.0               # t of the last command logged
        self._rates_since = time.monotonic()
        self._waiters: list[tuple[defer.Deferred, Any]] = []
        self._log: list[tuple[float, str, str]] = []
        self._counts = [0, 0]           # frames, commands since the last rate sample
        self.declare(FRAME, self._frame_fields(), capacity=3600)
        self.declare(RATE, {"fps": {"units": "1/s", "description": "frames shown per second"},
                            "commands_per_s": {"units": "1/s", "description": "commands applied per second"}},
                     interval=1.0, capacity=3600)
        self.declare(LOG, {"command": {"type": "string", "description": "command applied"},
                           "args": {"type": "string", "description": "its arguments, JSON"}}, capacity=10000)

    def _frame_fields(self):
        d = self.display
        fields = {"frame": {"type": "string", "description": f"frame shown, {d.height}x{d.width}x3 bytes as hex"},
                  "pending": {"type": "string", "description": "frame being drawn, as hex"},
                  "keys": {"type": "string", "description": "key -> pixel index, JSON"},
                  "brightness": {"description": "global brightness, 0 to 1"},
                  "seq": {"description": "number of the frame shown"}}
        if d.size <= PIXEL_FIELDS_MAX:
            fields.update({f"p{i:04d}": {"units": "0xRRGGBB", "description": f"colour of pixel {i}"}
                           for i in range(d.size)})
        return fields

    # -- life --------------------------------------------------------------------
    def start(self):
        """Restore the display from the store file, show it, and record the rates every second."""
        saved = self.store.latest().get(FRAME)
        if saved is not None:
            self.display.load({k: v[-1] for k, v in saved["data"].items()})
            self.seq, self._shown_t = int(saved["data"]["seq"][-1]), float(saved["t"][-1])
            self.log.info("sisock: display restored at frame {seq}", seq=self.seq)
        self.output.show(self.display.frame, self.display.brightness)
        self._rates_since = time.monotonic()
        task.LoopingCall(self._record_rates).start(1.0, now=False)

    def after_onJoin(self, details):
        """Subscribe to the display's command topics (after every join; the procedures are `procedure` s)."""
        subs = [self.subscribe(self._event(n), uri.node_uri(self.name, n)) for n in CHANGES]
        return defer.gatherResults(subs, consumeErrors=True)

    def _event(self, name):
        """The handler of command topic ``name``: the command's method, with its arguments checked as a call's."""
        method = getattr(self, name)

        def dropped(failure):
            self.log.warn("sisock: dropped an event on {topic}: {why}", topic=uri.node_uri(self.name, name),
                          why=failure.getErrorMessage())

        def event(*args, **kwargs):
            defer.maybeDeferred(validate.call, method, args, kwargs, name).addErrback(dropped)
        return event

    # -- commands ----------------------------------------------------------------
    @procedure(roles=CHANGERS)
    @command
    def set(self, color: list, key: str = None, index: int = None, x: int = None, y: int = None,
            show: bool = True):
        """Colour one pixel, named by a key, an index or x and y.

        Parameters
        ----------
        color : list
            [r, g, b], integers 0 to 255.
        key : str
            A name that gets a position on first use (linear, random or fixed allocation).
        index : int
            Pixel y * width + x.
        x : int
            Column, with y.
        y : int
            Row, with x.
        show : bool
            Show the frame (true), or only draw into the pending frame.
        """
        where = self.display.set(color, key, index, x, y)
        return self._changed("set", dict(where, color=color), show, where)

    @procedure(roles=CHANGERS)
    @command
    def fill(self, color: list, show: bool = True):
        """Colour every pixel.

        Parameters
        ----------
        color : list
            [r, g, b], integers 0 to 255.
        show : bool
            Show the frame (true), or only draw into the pending frame.
        """
        self.display.fill(color)
        return self._changed("fill", {"color": color}, show)

    @procedure(roles=CHANGERS)
    @command
    def clear(self, show: bool = True):
        """Make every pixel black (keys keep their positions).

        Parameters
        ----------
        show : bool
            Show the frame (true), or only draw into the pending frame.
        """
        self.display.clear()
        return self._changed("clear", {}, show)

    @procedure(roles=CHANGERS)
    @command
    def set_frame(self, frame: list | bytes, show: bool = True):
        """Replace the whole frame.

        Parameters
        ----------
        frame : list
            height x width x 3 integers 0 to 255 (nested lists), or height*width*3 raw bytes, row-major RGB.
        show : bool
            Show the frame (true), or only draw into the pending frame.
        """
        self.display.set_frame(frame)
        return self._changed("set_frame", {"frame": self.display.pending.tobytes().hex()}, show)

    @procedure(roles=CHANGERS)
    @command
    def brightness(self, value: float):
        """Set the global brightness and show the current frame with it.

        Parameters
        ----------
        value : float
            0 (off) to 1 (full).
        """
        self.display.set_brightness(value)
        return self._changed("brightness", {"value": value}, False, output=True)

    @procedure(roles=CHANGERS)
    @command
    def release(self, key: str, show: bool = True):
        """Free the position of a key and make its pixel black.

        Parameters
        ----------
        key : str
            A key holding a position.
        show : bool
            Show the frame (true), or only draw into the pending frame.
        """
        where = self.display.release(key)
        return self._changed("release", {"key": key}, show, where)

    @procedure(roles=CHANGERS)
    @command
    def show(self):
        """Show the pending frame."""
        return self._changed("show", {}, True)

    @procedure(roles=CHANGERS)
    @command
    def describe(self, about: str = "", legend: dict = None):
        """Say what the display shows and what its colours mean (shown beside it; not recorded: a client
        describes it again when it draws again after a restart).

        Parameters
        ----------
        about : str
            One line on what the display shows ("" for none).
        legend : dict
            ``{label: [r, g, b]}``: what each colour means, in the order shown (None for none).
        """
        self.about, self.legend = parse_description(about, legend)
        return self._changed("describe", {"about": self.about, "legend": self.legend}, False, output=True)

    @procedure
    @command
    def get_state(self, t: float = None):
        """The display now, or the frame shown at a past time.

        Parameters
        ----------
        t : float
            sisock time (UNIX seconds UTC, or <= 0 for relative to now); now if omitted.
        """
        if t is None:
            return dict(self.display.state(), seq=self.seq, t=self._shown_t, fps=self.fps, about=self.about,
                        legend=self.legend)
        when = validate.time_arg("t", t)
        return threads.deferToThread(self._state_at, when)

    @procedure
    @command
    def snapshot(self, scale: int = 16):
        """A PNG image of the frame shown (brightness not applied).

        Parameters
        ----------
        scale : int
            Image pixels per display pixel, 1 to 64.
        """
        if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= 64:
            raise InvalidArgument(f"scale: must be an integer from 1 to 64, got {scale!r:.40}")
        return threads.deferToThread(png, self.display.frame.copy(), scale)

    @command
    def save_png(self, path: str, scale: int = 16):
        """Write a PNG snapshot of the frame shown to a file on the node's host (admins only).

        Parameters
        ----------
        path : str
            Absolute path of the file, ending in .png.
        scale : int
            Image pixels per display pixel, 1 to 64.
        """
        if not isinstance(path, str) or not path.startswith("/") or not path.endswith(".png"):
            raise InvalidArgument(f"path: must be an absolute path ending in .png, got {path!r:.80}")

        def write(data):
            with open(path, "wb") as fp:
                fp.write(data)
            return {"path": path, "bytes": len(data), "seq": self.seq}

        return self.snapshot(scale).addCallback(lambda data: threads.deferToThread(write, data))

    # -- frames ------------------------------------------------------------------
    def _changed(self, name, args, show, result=None, output=False):
        """Log a command applied, ask for a frame; Deferred of ``result`` once the frame is recorded."""
        from twisted.internet import reactor

        self._counts[1] += 1
        self._log_t = max(time.time(), float(np.nextafter(self._log_t, np.inf)))
        self._log.append((self._log_t, name, json.dumps(args)))
        self._show_wanted |= show
        self._output_wanted |= output
        if self._tick_call is None:
            early = EARLY / self.fps
            self._tick_call = reactor.callLater(max(0.0, self._due - early - time.monotonic()), self._tick)
        done = defer.Deferred()
        self._waiters.append((done, result))
        return done

    def _tick(self):
        """Show the frame if asked (once for every command since the last), publish it, record the state."""
        self._tick_call = None
        self._due = max(self._due, time.monotonic()) + 1.0 / self.fps
        now = max(time.time(), float(np.nextafter(self._shown_t, np.inf)))
        shown = self._show_wanted or self._output_wanted
        if self._show_wanted:
            self.display.show()
        self._show_wanted = self._output_wanted = False
        if shown:
            self.seq += 1
            self._counts[0] += 1
            self.output.show(self.display.frame, self.display.brightness)
            self._publish_frame(now)
        self._shown_t = now
        waiters, self._waiters = self._waiters, []
        recorded = [self.record(FRAME, [now], self._sample()), self._record_log()]
        d = defer.gatherResults(recorded, consumeErrors=True)
        d.addCallback(lambda _: [w.callback(r) for w, r in waiters])
        d.addErrback(lambda f: [w.errback(f.value.subFailure) for w, _ in waiters])

    def _sample(self):
        sample = {k: [v] for k, v in self.display.dump().items()}
        sample["seq"] = [self.seq]
        if self.display.size <= PIXEL_FIELDS_MAX:
            rgb = self.display.frame.reshape(-1, 3).astype(np.uint32)
            packed = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
            sample.update({f"p{i:04d}": packed[i:i + 1] for i in range(self.display.size)})
        return sample

    def _record_log(self):
        log, self._log = self._log, []
        return self.record(LOG, [e[0] for e in log], {"command": [e[1] for e in log], "args": [e[2] for e in log]})

    def _publish_frame(self, t):
        if self.is_attached():
            d = self.display
            self.publish(uri.node_uri(self.name, "frame"), {
                "seq": self.seq, "t": t, "width": d.width, "height": d.height, "brightness": d.brightness,
                "rgb": d.frame.tobytes(), "pixels": d.frame.tolist(), "about": self.about, "legend": self.legend})

    def _record_rates(self):
        now, since = time.monotonic(), self._rates_since
        frames, commands = self._counts
        self._counts, self._rates_since = [0, 0], now
        rates = {"fps": [frames / (now - since)], "commands_per_s": [commands / (now - since)]}
        self.record(RATE, [time.time()], rates).addErrback(log_failure, self.log, "pixels: recording the rates")

    def _state_at(self, when):
        """The frame shown at ``when`` (UNIX s), from the recorded samples (in a thread)."""
        fields = ["frame", "brightness", "seq", "keys"]
        for back in LOOKBACK:
            got = self.store.get_data(fields, max(when - back, 0.0), np.nextafter(when, np.inf))
            t = got["timeline"].get(FRAME, {}).get("t", ())
            if len(t):
                data = got["data"]
                frame = np.frombuffer(bytes.fromhex(data["frame"][-1]), np.uint8)
                return {"t": float(t[-1]), "seq": int(data["seq"][-1]), "brightness": float(data["brightness"][-1]),
                        "width": self.display.width, "height": self.display.height,
                        "frame": frame.reshape(self.display.frame.shape).tolist(),
                        "keys": json.loads(data["keys"][-1])}
        raise InvalidArgument(f"t: nothing was shown at or before {when} (UNIX s)")
