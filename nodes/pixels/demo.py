"""Demo clients of the pixel node: ``python -m nodes.pixels.demo {status,gravwell} [--display NAME]``.

``status``
    A status board: 64 services (keys ``svc00`` ... ``svc63``) each GOOD,
    WARNING or ERROR at random, drawn without showing and shown at once,
    a few times; then full-display fills; in cycles.
``gravwell``
    A race in the style of the board game Gravwell on a 64-pixel track:
    four players and two junk ships; each turn every player plays a
    card (forward, backward, or tractor beam: pulled towards the nearest
    ship), one frame (``set_frame``) every ``--period`` seconds (0.2).

Both call the display's procedures as authenticated devices: they join
as node ``demo-<what>`` (``--authid``) with the node secret, since the
display refuses changes from anonymous consumers. Each first describes
the display (``describe``: what it shows, what its colours mean, shown
beside it in the web client). They wait patiently:
for the secrets file (the router writes it when first started), for the
router (the session reconnects by itself) and for the display (asked
again every second until it answers), and print ``READY demo <what>``
once the first frame is acknowledged.
"""

from __future__ import annotations

import argparse

import numpy as np
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, reactor, task

from sisock import client, config
from sisock.connection import announce_ready
from sisock.wire import uri

GOOD, WARNING, ERROR = [0, 160, 0], [255, 140, 0], [200, 0, 0]
FILLS = ([0, 0, 120], [0, 120, 0], [120, 0, 0], [60, 60, 60])
PLAYERS = ([255, 0, 0], [0, 255, 0], [0, 80, 255], [255, 255, 0])
JUNK = [120, 120, 120]
TRACK = 64


class Race:
    """The state of a Gravwell-style race: ships on a track of `TRACK` pixels.

    Parameters
    ----------
    seed : int, optional
        Seed of the cards dealt.
    """

    def __init__(self, seed: int | None = None):
        self.rng = np.random.default_rng(seed)
        self.players = [0, 0, 0, 0]
        self.junk = [20, 40]

    def turn(self) -> None:
        """Every player plays a random card: forward or backward 1 to 4, or tractor beam."""
        for p in range(len(self.players)):
            card = self.rng.choice(["forward", "backward", "tractor"], p=[0.6, 0.2, 0.2])
            here = self.players[p]
            if card == "tractor":
                others = [s for i, s in enumerate(self.players) if i != p] + self.junk
                target = min(others, key=lambda s: (abs(s - here), s))
                step = int(np.sign(target - here))
            else:
                step = int(self.rng.integers(1, 5)) * (1 if card == "forward" else -1)
            self.players[p] = min(max(here + step, 0), TRACK - 1)
        if max(self.players) == TRACK - 1:  # a winner: everyone back to the start
            self.players = [0, 0, 0, 0]

    def frame(self, width: int, height: int) -> bytes:
        """The track drawn on a ``height x width`` display (row-major), as raw RGB bytes."""
        pixels = np.zeros((width * height, 3), np.uint8)
        for position in self.junk:
            pixels[position % len(pixels)] = JUNK
        for colour, position in zip(PLAYERS, self.players, strict=True):
            pixels[position % len(pixels)] = colour
        return pixels.tobytes()


@defer.inlineCallbacks
def wait_for_display(session, display):
    """The display's state once it answers; asks again every second until then."""
    while True:
        try:
            state = yield session.call(uri.node_uri(display, "get_state"))
            return state
        except ApplicationError:
            yield task.deferLater(reactor, 1.0, lambda: None)


#: What each demo shows and what its colours mean (the display's ``describe``).
STATUS_ABOUT = ("Status board: one pixel a service (keys svc00 to svc63), redrawn every few seconds; "
                "between rounds the whole display is filled")
STATUS_LEGEND = {"good": GOOD, "warning": WARNING, "error": ERROR}
RACE_ABOUT = (f"Gravwell-style race on a {TRACK}-pixel track, start on the left: each turn every player moves "
              "forward, backward or is pulled to the nearest ship; the first to the end wins")
RACE_LEGEND = {**{f"player {i + 1}": colour for i, colour in enumerate(PLAYERS)}, "junk ship": JUNK}


@defer.inlineCallbacks
def status(session, display, size, period):
    """Run the status board forever (see the module docstring)."""
    rng = np.random.default_rng()
    yield session.call(uri.node_uri(display, "describe"), STATUS_ABOUT, legend=STATUS_LEGEND)
    while True:
        for _ in range(5):
            states = rng.choice(3, size, p=[0.7, 0.2, 0.1])
            yield defer.gatherResults([session.call(uri.node_uri(display, "set"), (GOOD, WARNING, ERROR)[s],
                                                    key=f"svc{i:02d}", show=False) for i, s in enumerate(states)])
            yield session.call(uri.node_uri(display, "show"))
            yield ready_once("status")
            yield task.deferLater(reactor, period * 5, lambda: None)
        for colour in FILLS:
            yield session.call(uri.node_uri(display, "fill"), colour)
            yield task.deferLater(reactor, period * 2, lambda: None)


@defer.inlineCallbacks
def gravwell(session, display, width, height, period):
    """Run the race forever, one frame every ``period`` seconds (see the module docstring)."""
    race = Race()
    yield session.call(uri.node_uri(display, "describe"), RACE_ABOUT, legend=RACE_LEGEND)
    while True:
        race.turn()
        yield session.call(uri.node_uri(display, "set_frame"), race.frame(width, height))
        yield ready_once("gravwell")
        yield task.deferLater(reactor, period, lambda: None)


_announced = []


def ready_once(what):
    """Print ``READY demo <what>`` the first time only."""
    if not _announced:
        _announced.append(what)
        announce_ready(f"demo {what}")


@defer.inlineCallbacks
def _connection(args):
    """The demo's `sisock.config.Connection` as a node; asks again every second until the node secret exists."""
    while True:
        try:
            return config.connection_from_args(args, "node")
        except config.SecretsError as exc:
            print(f"demo {args.demo}: {exc}; trying again in a second", flush=True)
            yield task.deferLater(reactor, 1.0, lambda: None)


@defer.inlineCallbacks
def _run(args):
    conn = yield _connection(args)
    session = yield client.connect(conn.url, conn.realm, conn.authid, conn.secret)
    while True:
        try:
            state = yield wait_for_display(session, args.display)
            if args.demo == "status":
                yield status(session, args.display, min(64, state["width"] * state["height"]), args.period)
            else:
                yield gravwell(session, args.display, state["width"], state["height"], args.period)
        except ApplicationError as exc:  # the display went away mid-demo: wait for it again
            print(f"demo {args.demo}: {exc}; trying again in a second", flush=True)
            yield task.deferLater(reactor, 1.0, lambda: None)


def main(argv=None):
    """Parse the options and run a demo until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m nodes.pixels.demo", description=__doc__.splitlines()[0])
    parser.add_argument("demo", choices=("status", "gravwell"))
    parser.add_argument("--display", default="pixels", help="node name of the display (default %(default)s)")
    parser.add_argument("--period", type=float, default=0.2, help="seconds between frames (default %(default)s)")
    config.add_connection_arguments(parser)
    args = parser.parse_args(argv)
    args.authid = args.authid or f"demo-{args.demo}"
    import txaio

    txaio.use_twisted()
    txaio.start_logging(level=args.log_level)  # READY lines are printed through the log (info)
    task.react(lambda _: _run(args))


if __name__ == "__main__":
    main()
