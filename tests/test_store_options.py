"""The store's settings on a node's command line: --retention and --rollups, read as documented."""

import math

import pytest

from sisock.node import DataNodeServer
from sisock.node.run import node_parser, store_options
from sisock.store import options
from sisock.store.store import Store
from tests.test_node_run import UNDOCUMENTED, run_script


class Recorder(DataNodeServer):
    """A node of the test."""

    name = "recorder"


def test_durations_and_tiers_are_read_with_their_units():
    assert [options.duration(v) for v in ("90", "90s", "15m", "1.5h", "30d", "2w", "1y", "inf")] == \
        [90.0, 90.0, 900.0, 5400.0, 30 * 86400.0, 14 * 86400.0, 365 * 86400.0, math.inf]
    assert options.rollups("1m:365d,1h,1d") == ((60.0, 365 * 86400.0), (3600.0, None), (86400.0, None))
    assert options.rollups("10s:2d, 5m:inf") == ((10.0, 2 * 86400.0), (300.0, None))
    assert options.rollups("none") == ()


def test_the_node_command_line_gives_the_store_its_tiers_and_retention(tmp_path):
    args = node_parser(Recorder).parse_args(["--data-dir", str(tmp_path), "--retention", "12h",
                                             "--rollups", "5m:30d,1h"])
    settings = store_options(args)
    assert settings["retention"] == 43200.0 and settings["rollups"] == ((300.0, 30 * 86400.0), (3600.0, None))
    store = Store()
    store.declare("tl", {"x": {}})
    store.open(**settings)
    try:
        assert store.rollup_widths == (300.0, 3600.0)
    finally:
        store.close()
    defaults = store_options(node_parser(Recorder).parse_args(["--data-dir", str(tmp_path)]))
    assert defaults["rollups"] == ((60.0, 365 * 86400.0), (3600.0, None), (86400.0, None))


@pytest.mark.parametrize("value, said", [
    ("1h,1m", "ascend"),
    ("1m,90s", "multiple"),
    ("1m:soon", "'soon' is not a duration"),
    ("0s", "'0s' is not a duration"),
])
def test_bad_tiers_are_a_usage_error_naming_the_option(tmp_path, value, said):
    run = run_script(tmp_path, UNDOCUMENTED, "--rollups", value)
    assert run.returncode == 2
    error = run.stderr.strip().splitlines()[-1]   # after argparse's usage
    assert "error: argument --rollups" in error and said in error and "Traceback" not in run.stderr


def test_the_help_tells_the_store_options(tmp_path):
    run = run_script(tmp_path, UNDOCUMENTED, "--help")
    assert run.returncode == 0, run.stderr
    assert "--rollups TIERS" in run.stdout and "1m:365d,1h,1d" in run.stdout and "30d" in run.stdout
