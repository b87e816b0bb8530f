"""`python -m bench` finishes and reports on a busy machine: a measurement that loses its node is tried again.

A tiny run of the real benchmark (its own router, hub, node, baseline and
bridge). Its node is frozen (SIGSTOP) as soon as it is ready, as a loaded
machine starves it: the router drops it for missed pings, and the
benchmark's first call to it fails. The benchmark says it tries again, the
node is let run (SIGCONT), joins again, and the benchmark finishes with
every number, reporting the dropped connection instead of crashing.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--samples", "1000", "--repeats", "1", "--events", "200", "--live-repeats", "1", "--calls", "20",
        "--history-days", "1"]

pytestmark = pytest.mark.timeout(280)


def test_a_bench_run_whose_node_is_starved_tries_again_and_reports_everything(tmp_path):
    err_path = tmp_path / "bench.err"
    with open(tmp_path / "bench.out", "wb") as out, open(err_path, "wb") as err:
        bench = subprocess.Popen([sys.executable, "-m", "bench", *TINY], cwd=ROOT, stdout=out, stderr=err,
                                 env=dict(os.environ, PYTHONUNBUFFERED="1"))
    node = None
    try:
        wait_until(lambda: re.search(r" in (\S+)$", err_path.read_text(), re.M), 60, "the bench's directory")
        directory = Path(re.search(r" in (\S+)$", err_path.read_text(), re.M).group(1))
        wait_until(lambda: "READY" in (directory / "node.log").read_text(errors="replace")
                   if (directory / "node.log").exists() else False, 120, "the bench node")
        node = next(p for p in psutil.Process(bench.pid).children() if "bench.node" in p.cmdline())
        node.send_signal(signal.SIGSTOP)
        wait_until(lambda: "trying again" in err_path.read_text() or bench.poll() is not None, 120,
                   "the benchmark to try again")
        node.send_signal(signal.SIGCONT)
        assert bench.wait(200) == 0, err_path.read_text()[-3000:]
    finally:
        if node is not None:
            with contextlib.suppress(psutil.NoSuchProcess):  # the bench stops it when it ends
                node.send_signal(signal.SIGCONT)
        if bench.poll() is None:
            bench.terminate()
            bench.wait(30)
    report = (tmp_path / "bench.out").read_text()
    assert "targets" in report and "not measured" not in report, report
    assert re.search(r"^connections: .*dropped", report, re.M), report
