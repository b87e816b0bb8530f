"""``sisock get --parquet`` and ``--netcdf`` of 1e8 samples against the same read assembled whole
(``python -m bench.bench_export``).

A router of its own on loopback and one node (`bench.export_node`: one
timeline, ``--fields`` float64 fields, ``--samples`` rows a second apart,
1e8 and 1 by default: 1e8 samples of one field, 1.6 GB of times and
values on the wire in 1 MiB chunks). Each read is one process, timed from
its start to its end, its peak RSS taken from the kernel (``wait4``'s
``ru_maxrss``) and, every 50 ms, from psutil:

- ``sisock get export f0 ... --parquet FILE``;
- ``sisock get export f0 ... --netcdf FILE``;
- ``sisock.Client.get_data`` of the same range (the whole answer in memory);
- ``sisock get ... --parquet`` of 1,000 samples: the memory of the
  command itself (Python, Twisted, pyarrow).

Printed side by side: samples/s (samples = rows x fields), peak RSS and
file size. Bounded in time: each read is killed after ``--timeout`` seconds.
"""

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import psutil

from bench.export_node import T0
from bench.stack import Stack, log, run_and_report

SISOCK = os.path.join(os.path.dirname(sys.executable), "sisock")

WHOLE = """
import sys, sisock
with sisock.Client(timeout=float(sys.argv[4])) as client:
    result = client.get_data("export", sys.argv[3].split(","), float(sys.argv[1]), float(sys.argv[2]))
print(sum(len(v) for v in result["data"].values()))
"""


def run(stack, argv, timeout):
    """Run ``argv``; ``(seconds, peak RSS bytes, exit status, stderr tail)``, killed after ``timeout`` s."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=stack.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.set_blocking(proc.stderr.fileno(), False)
    watched, polled, err = psutil.Process(proc.pid), 0, b""
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)   # the kernel's peak RSS of this very child
        if pid:
            break
        try:
            polled = max(polled, watched.memory_info().rss)
        except psutil.Error:
            pass
        err += proc.stderr.read() or b""
        if time.monotonic() - started > timeout:
            proc.kill()
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    err += proc.stderr.read() or b""
    return seconds, max(polled, usage.ru_maxrss * 1024), proc.returncode, err.decode(errors="replace")[-300:]


def measure(stack, args):
    """Every read of the module docstring; the results of `run_and_report`."""
    results = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "load": [os.getloadavg()[0]],
               "samples": int(args.samples), "fields": args.fields, "reads": {}, "failed": {}}
    stack.start_router()
    stack.python("node", "bench.export_node", "--samples", int(args.samples), "--fields", args.fields)
    fields = [f"f{k}" for k in range(args.fields)]
    end = T0 + args.samples
    out = os.path.join(stack.dir, "out")
    os.makedirs(out)
    reads = {
        "sisock get --parquet, 1,000 samples": ([SISOCK, "get", "export", *fields, "--start", str(T0), "--end",
                                                str(T0 + 1000), "--parquet", os.path.join(out, "small.parquet")],
                                               1000, os.path.join(out, "small.parquet")),
        "sisock get --parquet": ([SISOCK, "get", "export", *fields, "--start", str(T0), "--end", str(end),
                                  "--parquet", os.path.join(out, "all.parquet"), "--timeout", str(args.timeout)],
                                 args.samples, os.path.join(out, "all.parquet")),
        "sisock get --netcdf": ([SISOCK, "get", "export", *fields, "--start", str(T0), "--end", str(end),
                                 "--netcdf", os.path.join(out, "all.nc"), "--timeout", str(args.timeout)],
                                args.samples, os.path.join(out, "all.nc")),
        "Client.get_data, whole": ([sys.executable, "-c", WHOLE, str(T0), str(end), ",".join(fields),
                                    str(args.timeout)], args.samples, None),
    }
    for name, (argv, rows, path) in reads.items():
        log(name)
        seconds, peak, status, err = run(stack, argv, args.timeout)
        if status != 0:
            results["failed"][name] = f"exit status {status}: {err.strip()}"
            continue
        results["reads"][name] = {"seconds": seconds, "samples_per_s": rows * args.fields / seconds,
                                  "peak_rss": peak, "file_bytes": os.path.getsize(path) if path else None}
        if path:
            os.unlink(path)
    results["load"].append(os.getloadavg()[0])
    results["targets"] = []
    return results


def table(results, args):
    """The report as text."""
    load = results["load"]
    lines = [f"sisock export bench  {results['when']}  {os.cpu_count()} CPUs  load average {load[0]:.1f} at the "
             f"start, {load[1]:.1f} at the end (a loaded machine inflates the times)",
             f"{results['samples']:,} rows x {results['fields']} float64 field(s), 1 MiB chunks, loopback", "",
             f"{'read':38}{'seconds':>10}{'samples/s':>14}{'peak RSS MiB':>14}{'file MiB':>10}"]
    for name, r in results["reads"].items():
        size = "-" if r["file_bytes"] is None else f"{r['file_bytes'] / 2**20:.0f}"
        lines.append(f"{name:38}{r['seconds']:>10.1f}{r['samples_per_s']:>14,.0f}{r['peak_rss'] / 2**20:>14.0f}"
                     f"{size:>10}")
    for name, why in results["failed"].items():
        lines.append(f"{name:38}  failed: {why}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.bench_export", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=float, default=1e8, help="rows the node serves (default 1e8)")
    parser.add_argument("--fields", type=int, default=1, help="float64 fields (default 1)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds each read may take (default 900)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    stack = Stack(chunk_bytes=1 << 20)
    return run_and_report(stack, lambda: measure(stack, args), table, args)


if __name__ == "__main__":
    sys.exit(main())
