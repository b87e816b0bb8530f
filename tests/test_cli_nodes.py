"""``sisock nodes`` on a registry that holds a fleet gone offline: what matters comes first.

The hub starts on a registry file that already holds 500 lamps last seen
an hour ago and a retired node an admin disabled, as a hub restarted after
the fleet went away finds it; one node, ``sensors``, is online.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from sisock.hub.registry import FILE_NAME, Registry
from tests.conftest import Stack

SISOCK = os.path.join(os.path.dirname(sys.executable), "sisock")
LAMPS = [f"fleet.lamp{i:04d}" for i in range(500)]


@pytest.fixture(scope="module")
def gone_fleet(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("gone_fleet"))
    registry = Registry(os.path.join(stack.env["SISOCK_HOME"], "data", FILE_NAME))
    hour_ago = time.time() - 3600
    for name in [*LAMPS, "aaa.retired"]:
        registry.seen(name, "", {}, "fleet", hour_ago)
        registry.left(name, hour_ago)
    registry.set_enabled([registry.get("aaa.retired")], False)
    registry.close()
    try:
        stack.start_router()
        stack.hub = stack.spawn("hub", "sisock.hub")
        stack.spawn("sensors", "nodes.sensors", "--interval", "1")
        yield stack
    finally:
        stack.stop()


def sisock(stack, *args):
    return subprocess.run([SISOCK, *args], env=stack.env, capture_output=True, text=True, timeout=60)


def test_nodes_shows_the_online_first_then_the_disabled_then_the_offline_and_counts_each(gone_fleet):
    done = sisock(gone_fleet, "nodes", "--limit", "4")
    assert done.returncode == 0, done.stderr
    header, *rows, summary = done.stdout.splitlines()
    assert [row.split()[:2] for row in rows] == [["sensors", "online"], ["aaa.retired", "disabled"],
                                                 ["fleet.lamp0000", "offline"], ["fleet.lamp0001", "offline"]]
    assert summary == "nodes 1-4 of 502 (1 online, 1 disabled, 500 offline); --offset 4 for more"


def test_nodes_json_keeps_its_shape_and_adds_the_counts_of_what_the_filter_matched(gone_fleet):
    done = sisock(gone_fleet, "nodes", "--json", "--limit", "3", "--offset", "1")
    assert done.returncode == 0, done.stderr
    page = json.loads(done.stdout)
    assert [n["name"] for n in page["nodes"]] == ["aaa.retired", "fleet.lamp0000", "fleet.lamp0001"]
    assert (page["total"], page["offset"], page["limit"]) == (502, 1, 3)
    assert page["counts"] == {"online": 1, "disabled": 1, "offline": 500}
    lamps = json.loads(sisock(gone_fleet, "nodes", "fleet.lamp00*", "--json", "--limit", "0").stdout)
    assert lamps["counts"] == {"online": 0, "disabled": 0, "offline": 100} and lamps["nodes"] == []
    shown = sisock(gone_fleet, "nodes", "fleet.lamp00*", "--offset", "100")
    assert shown.stdout == "no node at offset 100 (100 in all: 0 online, 0 disabled, 100 offline)\n"
