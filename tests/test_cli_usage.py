"""What a user types at ``sisock``: times, tags and the mistakes in them, run as real commands.

Each test runs the installed ``sisock`` command in a child process with the
session stack's environment (its router URL and SISOCK_HOME).
"""

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time

import pytest

from sisock.cli.main import build_parser

SISOCK = os.path.join(os.path.dirname(sys.executable), "sisock")


def sisock(stack, *args, timeout=60):
    """Run ``sisock *args``; the CompletedProcess (text stdout and stderr)."""
    return subprocess.run([SISOCK, *args], env=stack.env, capture_output=True, text=True, timeout=timeout)


# -- a time that is no time is a usage error, named -----------------------------------------

@pytest.mark.parametrize("args", [
    ("get", "weather", "temperature", "--start", "nan"),
    ("get", "weather", "temperature", "--start", "1e400"),
    ("get", "weather", "temperature", "--start", "99999999999999999999"),
    ("query", "ALL", "--field", "power_w", "--start=-99999999999999999999"),
    ("faults", "--start", "1900-01-01"),
    ("energy", "--start=-inf"),
], ids=" ".join)
def test_a_start_that_is_no_usable_time_is_a_usage_error_in_one_line_naming_it(stack, args):
    done = sisock(stack, *args)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "--start" in done.stderr and "UNIX seconds" in done.stderr and "ISO 8601" in done.stderr
    assert "Error" not in done.stderr  # no Python exception names


@pytest.mark.parametrize("value", ["nan", "-inf", "1e400", "1e20", "-1e20", "-99999999999w", "1900-01-01",
                                   "10000-01-01", "soon"])
def test_every_time_option_refuses_what_is_no_time_since_1970(value):
    parser = build_parser()
    with pytest.raises(SystemExit) as refused:
        parser.parse_args(["get", "weather", "t", "--end", value])
    assert refused.value.code == 2


def test_a_tag_without_an_equals_sign_is_a_usage_error_in_one_line_naming_it(stack):
    done = sisock(stack, "tag", "weather", "zone")
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()] and "KEY=VALUE" in done.stderr and "'zone'" in done.stderr
    assert "Error" not in done.stderr


def test_a_usage_mistake_is_one_line_that_says_where_the_usage_is(stack):
    done = sisock(stack, "get", "weather")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "sisock get: error: the following arguments are required: FIELD (sisock get --help shows the usage)"]


# -- a time ago is given as the help shows it --------------------------------------------------

def test_get_help_s_own_example_reads_the_last_hour(stack):
    shown = sisock(stack, "get", "--help").stdout
    assert "--start -1h" in shown and "-30s/-10m/-2h/-1d/-1w ago" in shown and "the end of year" in shown
    done = sisock(stack, "get", "sensors", "cpu_percent", "--start", "-1h", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert 3590 < result["end"] - result["start"] < 3610 and len(result["data"]["cpu_percent"]) > 0


@pytest.mark.parametrize("args", [
    ("query", "sensors", "--field", "cpu_percent", "--start", "-30m", "--end", "-600"),
    ("faults", "sensors", "--start", "-1d"),
    ("energy", "sensors", "--start", "-1w", "--end=-1d"),
    ("fields", "sensors", "--start", "-10m"),
], ids=" ".join)
def test_every_command_taking_times_takes_a_time_ago_as_its_own_argument(stack, args):
    done = sisock(stack, *args, "--json")
    assert done.returncode in (0, 1), done.stderr  # 1: energy's sensors node records no energy counter
    assert "expected one argument" not in done.stderr and json.loads(done.stdout)


def test_a_box_west_and_south_of_zero_is_given_without_an_equals_sign():
    assert build_parser().parse_args(["nodes", "--bbox", "-71,-34,-70,-33"]).bbox == [-71, -34, -70, -33]


# -- a range given relative to now is shown as the absolute UTC range it means -------------

RANGE = re.compile(r"in \[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})Z, (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})Z\)")


def shown_range(text):
    """``(start, end)`` UNIX seconds of the ``in [start, end)`` range a command printed."""
    found = RANGE.search(" ".join(text.split()))
    assert found, text
    return [dt.datetime.strptime(t, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=dt.UTC).timestamp()
            for t in found.groups()]


@pytest.mark.parametrize("args", [
    ("query", "sensors", "--field", "cpu_percent", "--start=-1d", "--min-stride", "600", "--aggregate", "sum"),
    ("faults", "sensors", "--start=-1d"),
], ids=" ".join)
def test_a_range_relative_to_now_is_shown_as_the_utc_range_it_means(stack, args):
    asked = time.time()
    done = sisock(stack, *args)
    assert done.returncode == 0, done.stderr
    start, end = shown_range(done.stdout)
    assert asked - 1 <= end <= time.time() + 1 and end - start == pytest.approx(86400, abs=0.01)


# -- text sent to a pipe or a file is never wrapped -------------------------------------------

def test_output_to_a_pipe_keeps_each_line_whole_however_long(stack):
    fields = sisock(stack, "fields", "sensors")
    assert fields.returncode == 0, fields.stderr
    described = as_json(stack, "fields", "sensors")["field"]
    rows = {line.split()[0]: line for line in fields.stdout.splitlines()[1:]}
    assert set(rows) == set(described)
    assert all(described[f]["description"] in rows[f] for f in described)
    faults = sisock(stack, "faults", "sensors", "--start=-1d")
    assert RANGE.search(faults.stdout.splitlines()[-1]), faults.stdout


def as_json(stack, *args):
    done = sisock(stack, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -- every other mistake: one line naming it, the usage status --------------------------------

@pytest.mark.parametrize("args, named", [
    (("nodes", "--timeout", "-1"), "--timeout"),
    (("fields", "weather", "--timeout", "nan"), "--timeout"),
    (("nodes", "--limit", "99999999999999999999"), "--limit"),
    (("nodes", "--offset", "-1"), "--offset"),
    (("tail", "sensors", "--count", "-1"), "--count"),
    (("locate", "weather", "nan", "6.1"), "LAT"),
    (("locate", "weather", "46.2", "181"), "LON"),
    (("query", "sensors", "--field", "cpu_percent", "--start", "now", "--end", "-1h"), "--end (20"),
    (("energy", "sensors", "--start", "now", "--end", "-1h"), "--end (20"),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else None)
def test_a_bad_option_is_a_usage_error_in_one_line_naming_it(stack, args, named):
    done = sisock(stack, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.splitlines()) == 1 and named in done.stderr and "Error" not in done.stderr, done.stderr
