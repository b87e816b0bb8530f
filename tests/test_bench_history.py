"""`python -m bench.bench_history` runs end to end at a tiny size and prints its table.

One run of the real benchmark on a store of one day (its own router and
node process, three recording processes): the table has the build, the
bytes per value, the raw read, the 24 h read through the router and the
recording of each store, with the targets; the store built with ``--keep``
stays for the next run. No number is checked: the machine's load decides them.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.timeout(240)


def test_the_history_bench_at_one_day_prints_every_row_of_its_table(tmp_path):
    keep = tmp_path / "stores"
    done = subprocess.run([sys.executable, "-m", "bench.bench_history", "--days", "1", "--repeats", "1",
                           "--record-samples", "60", "--keep", str(keep)], cwd=ROOT, capture_output=True,
                          text=True, timeout=220, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert done.returncode == 0, done.stderr[-3000:]
    report = done.stdout
    number = r"\s+\d+(\.\d+)?"
    for row in ("build, s", "bytes per raw value kept \\(file / raw values\\)",
                "bytes per value recorded \\(file / days x 86400 x 12\\)", "raw get_data \\+ downsample, ms",
                "get_data 1000 points via router, 24 h, ms"):
        assert re.search(f"^{row}{number}", report, re.M), (row, report)
    assert re.search(r"^\s+block\s+current\s+no-tiers\s+previous$", report, re.M), report
    assert re.search(rf"^\s+1{number}{number}{number}$", report, re.M), report
    for key in ("held", "peak", "memory"):
        assert re.search(rf"^\s*{key} B{number}{number}{number}   \S", report, re.M), (key, report)
    assert re.search(r"^  (MET |MISS)  memory held per sample recorded not above the previous store's", report,
                     re.M), report
    assert "load average" in report and "targets" in report, report
    assert (keep / "history1.sqlite").exists()
