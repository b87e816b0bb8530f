"""The benchmark's baseline: a bare Autobahn session, no sisock (``python -m bench.bare``).

One plain ``ApplicationSession`` run by Autobahn's ``ApplicationRunner``
(its defaults, except MessagePack and no message size or fragmenting limit
of its own; joined as node ``barepub`` so that it may register and
publish, or with ``--anonymous`` on the bare baseline router of
`bench.stack`, which has no sisock at all) offers:

``consumer.barepub.raw(n)``
    the same samples as the benchmark node's ``get_data`` of ``n`` samples
    (float64 ``t`` and ``x``), as raw bytes prepared in advance: one result
    ``{"t": bytes, "x": bytes}`` if it fits ``--chunk-bytes``, else
    progressive results ``{"offset": i0, "t": bytes, "x": bytes}`` of that
    size and a final ``{"n": n}``. The ceiling of any get_data.
``consumer.barepub.live(n, block, rate)``
    publish ``n`` events ``{timeline, t: [...], data: {y: [...]}}`` of
    ``block`` samples on ``consumer.barepub.data``, like the benchmark
    node's ``live`` but with a bare ``publish``.
"""

import argparse
import time

import numpy as np
from autobahn.twisted.wamp import ApplicationRunner, ApplicationSession
from autobahn.wamp import auth
from autobahn.wamp.serializer import MsgPackSerializer
from autobahn.wamp.types import RegisterOptions
from twisted.internet import defer

from bench.node import DT, T0, publish_loop
from sisock import config
from sisock.wire import uri

NAME = "barepub"


class Bare(ApplicationSession):
    """Raw-bytes RPC and bare publisher."""

    def onConnect(self):
        if self.config.extra["secret"] is None:
            self.join(self.config.realm, ["anonymous"])
        else:
            self.join(self.config.realm, ["wampcra"], NAME)

    def onChallenge(self, challenge):
        return auth.compute_wcs(self.config.extra["secret"], challenge.extra["challenge"])

    @defer.inlineCallbacks
    def onJoin(self, details):
        self.t, self.x, self.chunk = (self.config.extra[k] for k in ("t", "x", "chunk_bytes"))
        self.last = 0.0
        yield self.register(self.raw, uri.node_uri(NAME, "raw"), RegisterOptions(details_arg="details"))
        yield self.register(self.live, uri.node_uri(NAME, "live"))
        print("READY bare", flush=True)

    def raw(self, n, details=None):
        t, x = memoryview(self.t)[:8 * n], memoryview(self.x)[:8 * n]
        if 16 * n <= self.chunk or details.progress is None:
            return {"t": t, "x": x}
        rows = self.chunk // 16
        for lo in range(0, n, rows):
            details.progress({"offset": lo, "t": t[8 * lo:8 * (lo + rows)], "x": x[8 * lo:8 * (lo + rows)]})
        return {"n": n}

    def live(self, n, block, rate):
        from twisted.internet import reactor

        values = np.linspace(0.0, 1.0, int(block))
        offsets = np.arange(int(block) - 1, -1, -1) * 1e-6  # float64 resolves 0.24 us at 1.7e9 s
        topic = uri.node_uri(NAME, "data")

        def one(i):
            now = max(time.time(), self.last + len(offsets) * 1e-6)
            self.last = now
            self.publish(topic, {"timeline": "live", "t": (now - offsets).tolist(), "data": {"y": values.tolist()}})

        return publish_loop(reactor, int(n), float(rate), one).addCallback(lambda _: int(n))


def main(argv=None):
    parser = argparse.ArgumentParser(description="bare Autobahn baseline of the sisock benchmark")
    parser.add_argument("--samples", type=int, default=10_000_000)
    parser.add_argument("--chunk-bytes", type=int, required=True)
    parser.add_argument("--url", default=config.env("URL", config.DEFAULT_URL))
    parser.add_argument("--realm", default=config.env("REALM", config.DEFAULT_REALM))
    parser.add_argument("--anonymous", action="store_true", help="join anonymously (the bare baseline router)")
    args = parser.parse_args(argv)
    i = np.arange(args.samples)
    extra = {"secret": None if args.anonymous else config.load_secret("node"), "chunk_bytes": args.chunk_bytes,
             "t": (T0 + i * DT).tobytes(), "x": np.sin(i * 1e-3).tobytes()}
    sizes = {"maxMessagePayloadSize": 0, "maxFramePayloadSize": 0, "autoFragmentSize": 0}  # the router limits
    ApplicationRunner(args.url, args.realm, extra=extra, serializers=[MsgPackSerializer()],
                      websocket_options=sizes).run(Bare)


if __name__ == "__main__":
    main()
