"""``sisock get NODE FIELD... --parquet FILE --netcdf FILE``: one get_data call streamed into files.

The answer's rows go to the files as its chunks arrive
(`sisock.client.ConsumerSession.stream_data`), written in one worker
thread (`sisock.cli.writers`), so a range of any length takes the memory
of a few chunks. While more than `MAX_PENDING` batches wait for the
writer, the connection stops reading (the router holds what comes meanwhile) for
`MAX_PAUSE` at most.

Files are written under temporary names ``FILE.<pid>.partial`` and renamed
to their names only once complete; a failed or interrupted command
leaves no file behind (`discard`). Parquet: one file per timeline of the
fields, ``FILE`` itself for a single timeline, else ``<stem>.<timeline><suffix>``
(``july.parquet`` -> ``july.hourly.parquet``, ``july.minutely.parquet``).
NetCDF: one file ``FILE`` with a dimension per timeline.
"""

import os
import time

from twisted.internet import defer, threads
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from sisock.cli import output, writers
from sisock.cli import support as cli

#: Batches waiting for the writer thread above which the connection stops reading.
MAX_PENDING = 2
#: Seconds the connection stops reading at most: the router's pings must get their answers (3 s timeout).
MAX_PAUSE = 1.0
#: Temporary files of this process not renamed yet (removed by `discard`).
_partial = set()


def paths(path, timelines):
    """``{timeline: file}`` of a Parquet export to ``path``: ``path`` for one timeline, else
    ``<stem>.<timeline><suffix>`` next to it (the suffix ``.parquet`` if ``path`` has none)."""
    if len(timelines) == 1:
        return {timelines[0]: path}
    stem, suffix = os.path.splitext(path)
    return {tl: f"{stem}.{tl}{suffix or '.parquet'}" for tl in timelines}


def discard():
    """Remove the temporary files a failed or interrupted export left (after the reactor stopped)."""
    while _partial:
        try:
            os.unlink(_partial.pop())
        except OSError:
            pass


def check_options(args):
    """What ``sisock get`` can refuse before connecting: ``--csv`` with an export, a library not installed.

    Raises
    ------
    sisock.cli.support.Failed
        USAGE for ``--csv`` with ``--parquet`` or ``--netcdf`` and for ``-``
        as their file, ERROR naming the extra to install for a missing library.
    """
    if (args.parquet or args.netcdf) and args.csv:
        raise cli.Failed(cli.USAGE, "--csv goes alone: --parquet and --netcdf write the samples as they arrive, "
                                    "--csv once all are in")
    if "-" in (args.parquet, args.netcdf):
        raise cli.Failed(cli.USAGE, "--parquet and --netcdf write a file, not stdout: give a file name")
    try:
        for kind in ("parquet", "netcdf"):
            if getattr(args, kind):
                writers.require(kind)
    except writers.MissingLibrary as exc:
        raise cli.Failed(cli.ERROR, str(exc)) from None


class _Export:
    """The files of one ``sisock get`` export and the thread that writes them."""

    def __init__(self, args, field, timeline):
        self.args = args
        order = list(dict.fromkeys(field[f]["timeline"] for f in args.field))
        self.meta = {tl: {f: field[f] for f in args.field if field[f]["timeline"] == tl} for tl in order}
        self.interval = {tl: timeline.get(tl, {}).get("interval") for tl in order}
        self.info = {"node": args.node, "fields": list(args.field), "start": args.start, "end": args.end,
                     "start_utc": output.fmt_time(args.start), "end_utc": output.fmt_time(args.end),
                     "min_stride": args.min_stride, "created_utc": output.fmt_time(time.time())}
        self.parquet = paths(args.parquet, order) if args.parquet else {}
        self.targets = {}        # final path -> temporary path
        self.files = []          # (final path, format, writer), once the answer's layout is known
        self.by_timeline = {}    # timeline -> its writers
        self.pool = ThreadPool(1, 1, "sisock-export")
        self.pending, self.paused, self.transport, self.failure = 0, False, None, None

    def check(self):
        """Refuse names in use and files that exist (unless ``--force``), claim the temporary files.

        Raises
        ------
        sisock.cli.support.Failed
            USAGE for a field named as a time column or an existing file,
            ERROR for a path that cannot be written.
        """
        fields = [f for meta in self.meta.values() for f in meta]
        taken = [f for f in fields if f == "time" or (self.args.netcdf and f.startswith("time_"))]
        if taken:
            raise cli.Failed(cli.USAGE, f"field {taken[0]!r} has the name of a time column of the file")
        finals = [*self.parquet.values(), *([self.args.netcdf] if self.args.netcdf else [])]
        for path in finals:
            if os.path.exists(path) and not self.args.force:
                raise cli.Failed(cli.USAGE, f"{path} exists already; --force overwrites it")
        for path in finals:
            temp = f"{path}.{os.getpid()}.partial"
            try:
                open(temp, "xb").close()
            except OSError as exc:
                raise cli.Failed(cli.ERROR, f"cannot write {path}: {exc.strerror}") from None
            _partial.add(temp)
            self.targets[path] = temp

    def open(self, summary):
        """Make the writers (``on_start``: each timeline's ``finalized_until`` is known); no I/O yet."""
        got = summary["timeline"]
        specs = {tl: {"fields": meta, "interval": self.interval[tl],
                      "finalized_until": got.get(tl, {}).get("finalized_until")} for tl, meta in self.meta.items()}
        info = dict(self.info, timelines={tl: {k: v for k, v in spec.items() if k != "fields"}
                                          for tl, spec in specs.items()})
        self.by_timeline = {tl: [] for tl in self.meta}
        for tl, path in self.parquet.items():
            out = writers.ParquetOut(self.targets[path], tl, self.meta[tl], dict(info, timeline=tl))
            self.files.append((path, "parquet", out))
            self.by_timeline[tl].append(out)
        if self.args.netcdf:
            out = writers.NetcdfOut(self.targets[self.args.netcdf], specs, info)
            self.files.append((self.args.netcdf, "netcdf", out))
            for tl in self.meta:
                self.by_timeline[tl].append(out)

    def _submit(self, func, *args):
        from twisted.internet import reactor

        return threads.deferToThreadPool(reactor, self.pool, func, *args)

    def on_rows(self, timeline, t, data):
        """One batch, in the reactor thread: queue it for the writer; stop reading while the writer lags."""
        if self.failure is not None:   # a file failed: the rest of the answer is read and dropped
            return
        for path, _, out in self.files:
            if out in self.by_timeline.get(timeline, ()):
                self.pending += 1
                self._submit(out.write, timeline, t, data).addBoth(self._written, path)
        if self.pending > MAX_PENDING and self.transport is not None and not self.paused:
            from twisted.internet import reactor

            self.paused = True
            self.transport.pauseProducing()
            reactor.callLater(MAX_PAUSE, self._resume)

    def _resume(self):
        if self.paused:
            self.paused = False
            self.transport.resumeProducing()

    def _written(self, outcome, path):
        self.pending -= 1
        if isinstance(outcome, Failure) and self.failure is None:
            self.failure = (path, outcome)
        if self.pending <= 1 or self.failure is not None:
            self._resume()

    def _raise_failure(self):
        if self.failure is not None:
            path, failure = self.failure
            cause = failure.value.strerror if failure.check(OSError) else failure.getErrorMessage()
            raise cli.Failed(cli.ERROR, f"cannot write {path}: {cause}")

    @defer.inlineCallbacks
    def finish(self):
        """Wait for the writer, close every file and rename it; ``[{path, format, rows, timeline}, ...]``."""
        yield self._submit(lambda: None)   # after every queued batch
        self._raise_failure()
        for path, _, out in self.files:
            try:
                yield self._submit(out.close)
            except Exception:
                self.failure = (path, Failure())
                self._raise_failure()
        written = []
        for path, kind, out in self.files:
            os.replace(self.targets[path], path)
            _partial.discard(self.targets[path])
            rows = out.rows if kind == "parquet" else sum(out.rows.values())
            written.append({"path": path, "format": kind, "rows": rows,
                            "timeline": out.timeline if kind == "parquet" else list(self.meta)})
        return written

    def abort(self):
        """Deferred: every file closed in the writer thread (then `discard` removes them)."""
        return defer.DeferredList([self._submit(out.abort) for _, _, out in self.files])


@defer.inlineCallbacks
def export(session, args, progress):
    """Deferred exit status of ``sisock get ... --parquet/--netcdf``: read, write, rename, say what was written.

    Parameters
    ----------
    session : sisock.client.ConsumerSession
    args : argparse.Namespace
        ``node``, ``field``, ``start``/``end`` (absolute UNIX seconds UTC),
        ``min_stride``, ``parquet``, ``netcdf``, ``force``, ``json``.
    progress : callable
        ``progress(received_bytes, total_bytes)`` of the chunks.

    Raises (in the Deferred)
    ------------------------
    sisock.cli.support.Failed
        NOT_FOUND for a field the node does not have, USAGE for an existing
        file without ``--force``, ERROR for a file that cannot be written.
    """
    field, timeline = yield session.get_fields(args.node, 1, time.time())
    cli.require_fields(args.node, field, args.field)
    from twisted.internet import reactor

    job = _Export(args, field, timeline)
    job.check()
    job.pool.start()
    stopping = reactor.addSystemEventTrigger("during", "shutdown", job.pool.stop)   # Ctrl-C: the reactor stops
    job.transport = getattr(getattr(session, "_transport", None), "transport", None)
    try:
        yield session.stream_data(args.node, list(args.field), args.start, args.end, job.on_rows, args.min_stride,
                                  progress=progress, timeline_of={f: field[f]["timeline"] for f in args.field},
                                  on_start=job.open)
        written = yield job.finish()
    except BaseException:
        yield job.abort()
        raise
    finally:
        reactor.removeSystemEventTrigger(stopping)
        job.pool.stop()
    _report(args, written)
    return cli.OK


def _report(args, written):
    if args.json:
        output.print_json({"node": args.node, "start": args.start, "end": args.end, "files": written})
        return
    for item in written:
        timeline = item["timeline"] if isinstance(item["timeline"], str) else ", ".join(item["timeline"])
        print(f"wrote {item['rows']:,} sample(s) of {args.node} (timeline {timeline}) to {item['path']}")
