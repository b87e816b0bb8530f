"""The pixel node against a real router: commands, frames, allocation, errors, roles, restarts, replay."""

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions
from PIL import Image
from twisted.internet import defer, threads

from sisock import client
from sisock.router.directory import PROJECT_DIR
from sisock.wire import uri
from sisock.wire.errors import InvalidArgument, NotAuthorized
from tests.registry_support import close, connect_admin, connect_node, start_stack, until
from tests.test_readme import python_block

RED, GREEN, BLUE, WHITE = [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]


@pytest.fixture(scope="module")
def pix(tmp_path_factory):
    """A router, a hub and an 8x8 display ``pixels`` (linear keys), a 4-pixel strip and a fixed-map display;
    an anonymous consumer and a device joined as node ``tester`` (who may change displays)."""
    stack = start_stack(tmp_path_factory.mktemp("pixels"))
    try:
        stack.node = stack.spawn("pixels", "nodes.pixels", "--fps", "30")
        stack.strip = stack.spawn("strip", "nodes.pixels", "--name", "strip", "--strip", "4",
                                  "--allocation", "random", "--seed", "3")
        stack.fixed = stack.spawn("fixed", "nodes.pixels", "--name", "fixed", "--width", "4", "--height", "2",
                                  "--allocation", "fixed", "--key-map", json.dumps({"door": 5, "lamp": 0}))
        stack.consumer = pytest_twisted.blockon(stack.connect())
        stack.device = pytest_twisted.blockon(connect_node(stack, "tester"))
        yield stack
        close(stack.device)
        close(stack.consumer)
    finally:
        stack.stop()


def call(stack, display, procedure, *args, **kwargs):
    """Call a display's procedure as the authenticated device ``tester``."""
    return stack.device.call(uri.node_uri(display, procedure), *args, **kwargs)


@pytest_twisted.inlineCallbacks
def frames_of(stack, display, events):
    """Subscribe an `Events` collector to ``consumer.<display>.frame``."""
    collected = events()
    sub = yield stack.consumer.subscribe(collected, uri.node_uri(display, "frame"))
    return collected, sub


@pytest_twisted.inlineCallbacks
def test_set_with_show_false_draws_into_pending_and_one_show_makes_one_frame(pix, events):
    yield call(pix, "pixels", "clear")
    frames, sub = yield frames_of(pix, "pixels", events)
    yield call(pix, "pixels", "set", RED, index=5, show=False)
    yield call(pix, "pixels", "set", GREEN, x=1, y=2, show=False)
    yield call(pix, "pixels", "set", BLUE, key="door", show=False)
    state = yield call(pix, "pixels", "get_state")
    assert state["frame"][0][5] == [0, 0, 0] and state["pending"][0][5] == RED
    assert state["pending"][2][1] == GREEN
    assert frames.items == []
    yield call(pix, "pixels", "show")
    yield frames.wait(lambda items: len(items) >= 1, what="a frame")
    yield sub.unsubscribe()
    assert len(frames.items) == 1
    frame = np.frombuffer(frames.items[0]["rgb"], np.uint8).reshape(8, 8, 3)
    assert frame[0, 5].tolist() == RED and frame[2, 1].tolist() == GREEN
    where = state["keys"]["door"]
    assert frame[where["y"], where["x"]].tolist() == BLUE
    assert np.array_equal(np.array(frames.items[0]["pixels"], np.uint8), frame)


@pytest_twisted.inlineCallbacks
def test_commands_between_two_frames_coalesce_into_one_frame(pix, events):
    yield call(pix, "pixels", "fill", [0, 0, 0])
    frames, sub = yield frames_of(pix, "pixels", events)
    calls = [call(pix, "pixels", "set", [i, i, i], index=i) for i in range(40)]
    yield defer.gatherResults(calls)
    state = yield call(pix, "pixels", "get_state")
    yield frames.wait(lambda items: items and items[-1]["seq"] == state["seq"], what="the last frame")
    yield sub.unsubscribe()
    assert 1 <= len(frames.items) < 20  # 40 commands sent at once: a few frames at 30 fps, not 40
    assert [p for p in np.array(frames.items[-1]["pixels"]).reshape(-1, 3)[:40, 0]] == list(range(40))


@pytest_twisted.inlineCallbacks
def test_keys_get_positions_linearly_randomly_or_from_the_fixed_map(pix):
    yield call(pix, "pixels", "release", "door")
    a = yield call(pix, "pixels", "set", RED, key="alpha")
    b = yield call(pix, "pixels", "set", RED, key="beta")
    assert (a["index"], b["index"]) == (0, 1)  # linear: the lowest free positions
    again = yield call(pix, "pixels", "set", GREEN, key="alpha")
    assert again["index"] == 0
    lamp = yield call(pix, "fixed", "set", RED, key="lamp")
    door = yield call(pix, "fixed", "set", RED, key="door")
    assert (lamp["index"], door["index"]) == (0, 5) and (door["x"], door["y"]) == (1, 1)
    with pytest.raises(InvalidArgument, match="not in the fixed key map"):
        yield call(pix, "fixed", "set", RED, key="window")
    placed = yield defer.gatherResults([call(pix, "strip", "set", RED, key=k) for k in "abcd"])
    spots = [p["index"] for p in placed]
    assert sorted(spots) == [0, 1, 2, 3] and spots != [0, 1, 2, 3]  # random, seed 3


@pytest_twisted.inlineCallbacks
def test_a_full_display_refuses_a_new_key_until_one_is_released(pix):
    before = yield call(pix, "strip", "get_state")
    assert len(before["keys"]) == 4
    with pytest.raises(InvalidArgument, match="full"):
        yield call(pix, "strip", "set", BLUE, key="e")
    after = yield call(pix, "strip", "get_state")
    assert after["pending"] == before["pending"] and after["keys"] == before["keys"]
    freed = yield call(pix, "strip", "release", "b")
    placed = yield call(pix, "strip", "set", BLUE, key="e")
    assert placed["index"] == freed["index"]


@pytest.mark.parametrize("procedure, args, kwargs, named", [
    ("set", ([256, 0, 0],), {"index": 0}, "color"),
    ("set", ([1, 2],), {"index": 0}, "color"),
    ("set", ([1.5, 2, 3],), {"index": 0}, "color"),
    ("set", (RED,), {"index": 64}, "index"),
    ("set", (RED,), {"x": 8, "y": 0}, "x"),
    ("set", (RED,), {}, "exactly one"),
    ("set", (RED,), {"key": ""}, "key"),
    ("fill", ("red",), {}, "color"),
    ("release", ("nobody",), {}, "nobody"),
    ("set_frame", ([[0, 0, 0]] * 63,), {}, "shape"),
    ("set_frame", (np.full((8, 8, 3), 0.5).tolist(),), {}, "integers"),
    ("set_frame", (b"\0" * 191,), {}, "bytes"),
    ("brightness", (1.5,), {}, "brightness"),
    ("set", (RED,), {"colour": 3}, "colour"),
    ("describe", ("x" * 301,), {}, "about"),
    ("describe", ("a race",), {"legend": {"player 1": [255, 0]}}, "legend: 'player 1'"),
    ("describe", ("a race",), {"legend": {"": RED}}, "legend"),
])
@pytest_twisted.inlineCallbacks
def test_bad_input_is_a_clear_error_and_leaves_the_display_unchanged(pix, procedure, args, kwargs, named):
    before = yield call(pix, "pixels", "get_state")
    with pytest.raises(InvalidArgument) as info:
        yield call(pix, "pixels", procedure, *args, **kwargs)
    assert named in info.value.message
    after = yield call(pix, "pixels", "get_state")
    assert after == before


CHANGES = [("set", (RED,), {"index": 3}), ("fill", (BLUE,), {}), ("clear", (), {}),
           ("set_frame", (bytes(192),), {}), ("brightness", (0.5,), {}), ("release", ("alpha",), {}),
           ("show", (), {})]


@pytest.mark.parametrize("procedure, args, kwargs", CHANGES, ids=[c[0] for c in CHANGES])
@pytest_twisted.inlineCallbacks
def test_an_anonymous_consumer_may_read_the_display_but_not_change_it(pix, procedure, args, kwargs):
    yield call(pix, "pixels", "set", GREEN, key="alpha", show=False)
    before = yield pix.consumer.call(uri.node_uri("pixels", "get_state"))
    with pytest.raises(NotAuthorized, match=f"{procedure} may be called by admin or node or operator"):
        yield pix.consumer.call(uri.node_uri("pixels", procedure), *args, **kwargs)
    after = yield pix.consumer.call(uri.node_uri("pixels", "get_state"))
    assert after == before
    image = yield pix.consumer.call(uri.node_uri("pixels", "snapshot"), scale=1)
    assert image.startswith(b"\x89PNG")


@pytest_twisted.inlineCallbacks
def test_a_node_session_an_admin_and_an_operator_may_change_the_display(pix):
    admin = yield connect_admin(pix)
    added = yield admin.call(uri.HUB_USERS + "add", "pix_operator", "operator")
    operator = yield client.connect(pix.url, authid="pix_operator", secret=added["secret"])
    try:
        yield admin.call(uri.node_uri("pixels", "fill"), RED)
        by_admin = yield pix.consumer.call(uri.node_uri("pixels", "get_state"))
        yield pix.device.call(uri.node_uri("pixels", "set"), GREEN, index=0)
        by_device = yield pix.consumer.call(uri.node_uri("pixels", "get_state"))
        yield operator.call(uri.node_uri("pixels", "set"), BLUE, index=1)
        by_operator = yield pix.consumer.call(uri.node_uri("pixels", "get_state"))
    finally:
        yield operator.close()
        yield admin.call(uri.HUB_USERS + "remove", "pix_operator")
        yield admin.close()
    assert by_admin["frame"] == [[RED] * 8] * 8
    assert by_device["frame"][0][:2] == [GREEN, RED] and by_device["seq"] > by_admin["seq"]
    assert by_operator["frame"][0][:3] == [GREEN, BLUE, RED]


@pytest_twisted.inlineCallbacks
def test_command_topics_are_for_the_display_own_authid_only_and_bad_events_are_dropped(pix, events):
    topic = uri.node_uri("pixels", "fill")
    admin = yield connect_admin(pix)
    other = yield connect_node(pix, "notpixels")
    driver = yield connect_node(pix, "pixels")
    try:
        for session in (pix.consumer, admin, other):
            with pytest.raises(ApplicationError, match="not_authorized"):
                yield session.publish(topic, [9, 9, 9], options=PublishOptions(acknowledge=True))
        yield driver.publish(topic, [300, 0, 0], options=PublishOptions(acknowledge=True))
        yield driver.publish(uri.node_uri("pixels", "set"), options=PublishOptions(acknowledge=True))
        yield driver.publish(topic, [7, 7, 7], options=PublishOptions(acknowledge=True))
        state = yield until(lambda: call(pix, "pixels", "get_state"), lambda s: s["frame"][7][7] == [7, 7, 7],
                            "the fill published by the driver")
        assert all(p == [7, 7, 7] for row in state["frame"] for p in row)
        yield pix.node.wait_output("dropped an event on .*fill.*color")
        yield pix.node.wait_output("dropped an event on .*set")
    finally:
        for session in (admin, other, driver):
            yield session.close()


@pytest_twisted.inlineCallbacks
def test_a_late_subscriber_gets_the_current_frame_at_once(pix):
    yield call(pix, "pixels", "fill", GREEN)
    late = yield pix.connect()
    try:
        state = yield late.call(uri.node_uri("pixels", "get_state"))
        latest = yield late.call(uri.node_uri("pixels", "get_latest"))
    finally:
        yield late.close()
    assert state["frame"] == [[GREEN] * 8] * 8
    assert bytes.fromhex(latest["frame"]["data"]["frame"][0]) == bytes(GREEN * 64)


@pytest_twisted.inlineCallbacks
def test_a_past_frame_is_replayed_from_get_data_and_get_state(pix):
    yield call(pix, "pixels", "fill", BLUE)
    between = time.time()
    yield call(pix, "pixels", "fill", WHITE)
    got = yield pix.consumer.get_data("pixels", ["frame", "p0000", "seq"], between - 60, time.time() + 1)
    frames = [bytes.fromhex(f) for f in got["data"]["frame"]]
    assert frames[-2:] == [bytes(BLUE * 64), bytes(WHITE * 64)]
    assert np.asarray(got["data"]["p0000"])[-2:].tolist() == [0x0000FF, 0xFFFFFF]
    past = yield call(pix, "pixels", "get_state", between)
    assert past["frame"] == [[BLUE] * 8] * 8
    log = yield pix.consumer.get_data("pixels", ["command", "args"], between - 60, time.time() + 1)
    assert list(log["data"]["command"])[-2:] == ["fill", "fill"]
    assert json.loads(log["data"]["args"][-1]) == {"color": WHITE}
    fields, _ = yield pix.consumer.get_fields("pixels", 1, time.time() + 1)
    assert {"fps", "commands_per_s", "p0063", "frame", "pending", "keys"} <= set(fields)


@pytest_twisted.inlineCallbacks
def test_a_png_snapshot_is_the_frame_pixel_for_pixel(pix, tmp_path):
    frame = np.random.default_rng(5).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    yield call(pix, "pixels", "set_frame", frame.tobytes())
    data = yield call(pix, "pixels", "snapshot", scale=3)
    image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert image.shape == (24, 24, 3) and np.array_equal(image[::3, ::3], frame)
    admin = yield connect_admin(pix)
    try:
        path = str(tmp_path / "shown.png")
        answer = yield admin.call(uri.node_uri("pixels", "command"), "save_png", path, scale=1)
        with pytest.raises(ApplicationError, match="not_authorized"):
            yield pix.consumer.call(uri.node_uri("pixels", "command"), "save_png", path)
    finally:
        yield admin.close()
    assert answer["path"] == path and np.array_equal(np.asarray(Image.open(path).convert("RGB")), frame)


@pytest_twisted.inlineCallbacks
def test_sisock_call_snapshot_writes_the_png_to_a_file_to_a_pipe_or_as_base64_json(pix, tmp_path):
    frame = np.random.default_rng(6).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    yield call(pix, "pixels", "set_frame", frame.tobytes())
    sisock = os.path.join(os.path.dirname(sys.executable), "sisock")

    def run(*args):
        return threads.deferToThread(subprocess.run, [sisock, "call", "pixels", "snapshot", *args], env=pix.env,
                                     capture_output=True, timeout=60)

    def pixels(png):
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))[::2, ::2]

    path = tmp_path / "frame.png"
    to_file = yield run("scale=2", "--output", str(path))
    assert to_file.returncode == 0 and to_file.stdout == b"", to_file.stderr
    assert b"wrote" in to_file.stderr and np.array_equal(pixels(path.read_bytes()), frame)
    piped = yield run("scale=2")  # stdout is a pipe, as in `sisock call pixels snapshot > frame.png`
    assert piped.returncode == 0 and piped.stderr == b"" and np.array_equal(pixels(piped.stdout), frame)
    as_json = yield run("scale=2", "--json")
    answer = json.loads(as_json.stdout)
    assert as_json.returncode == 0 and answer["bytes"] == len(piped.stdout)
    assert base64.b64decode(answer["base64"]) == piped.stdout


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["restarted", "killed"])
@pytest_twisted.inlineCallbacks
def test_frame_pending_frame_and_keys_come_back_after_a_restart(pix, how):
    yield call(pix, "fixed", "fill", RED)
    yield call(pix, "fixed", "set", GREEN, key="lamp", show=False)
    before = yield call(pix, "fixed", "get_state")
    pix.fixed.signal(how)
    pix.fixed.popen.wait(10)
    pix.fixed.start()
    yield pix.fixed.ready()
    after = yield until(lambda: call(pix, "fixed", "get_state"), lambda s: s["seq"] >= before["seq"], "restored")
    for key in ("frame", "pending", "keys", "brightness", "seq"):
        assert after[key] == before[key], key
    assert after["frame"][0][0] == RED and after["pending"][0][0] == GREEN


@pytest_twisted.inlineCallbacks
def test_the_demos_wait_for_their_display_then_draw_frames(pix, events):
    status = pix.spawn("demo-status", "nodes.pixels.demo", "status", "--display", "board", "--period", "0.05",
                       ready=False)
    race = pix.spawn("demo-race", "nodes.pixels.demo", "gravwell", "--display", "track", "--period", "0.05",
                     ready=False)
    assert status.count("READY") == 0  # no display yet: the demos wait
    for display in (pix.spawn("board", "nodes.pixels", "--name", "board", ready=False),
                    pix.spawn("track", "nodes.pixels", "--name", "track", "--strip", "64", ready=False)):
        yield display.ready()
    board, sub1 = yield frames_of(pix, "board", events)
    track, sub2 = yield frames_of(pix, "track", events)
    yield status.ready()
    yield race.ready()
    yield board.wait(lambda items: len(items) >= 3, what="status frames")
    yield track.wait(lambda items: len(items) >= 5, what="race frames")
    yield sub1.unsubscribe()
    yield sub2.unsubscribe()
    assert list(board.items[-1]["legend"]) == ["good", "warning", "error"]  # each demo says what its colours mean
    assert list(track.items[-1]["legend"]) == ["player 1", "player 2", "player 3", "player 4", "junk ship"]
    assert "race" in track.items[-1]["about"]
    palette = {(0, 160, 0), (255, 140, 0), (200, 0, 0), (0, 0, 0), (0, 0, 120), (0, 120, 0), (120, 0, 0),
               (60, 60, 60)}
    assert {tuple(p) for f in board.items for row in f["pixels"] for p in row} <= palette
    ships = {(255, 0, 0), (0, 255, 0), (0, 80, 255), (255, 255, 0), (120, 120, 120)}
    drawn = [[i for i, p in enumerate(f["pixels"][0]) if tuple(p) != (0, 0, 0)] for f in track.items]
    assert all({tuple(p) for p in f["pixels"][0]} <= ships | {(0, 0, 0)} for f in track.items)
    assert len({tuple(d) for d in drawn}) > 1  # the ships move
    status.stop()
    race.stop()


def test_sisock_up_starts_the_display_and_with_demo_its_demos():
    from sisock.cli.launcher import stack_parts

    plain = [p.name for p in stack_parts("/tmp/home")]
    demo = [p.name for p in stack_parts("/tmp/home", demo=True)]
    assert "pixels" in plain and not any(n.startswith("demo-") for n in plain)
    assert demo[-3:] == ["race", "demo-status", "demo-race"] and demo.index("pixels") < demo.index("demo-status")


@pytest_twisted.inlineCallbacks
def test_the_readme_example_and_the_command_line_change_the_display(pix, tmp_path):
    script = tmp_path / "build_lamp.py"
    # the display of this test showed nothing an hour ago: ask for the frame shown now (t=0) instead
    script.write_text(python_block("pixels.fill").replace("-3600", "0") + "print(hour_ago['seq'])\n")
    env = dict(pix.env, PYTHONPATH=str(PROJECT_DIR))
    done = yield threads.deferToThread(subprocess.run, [sys.executable, str(script)], env=env,
                                       capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    state = yield pix.consumer.call(uri.node_uri("pixels", "get_state"))
    build = state["keys"]["build"]
    assert state["frame"][build["y"]][build["x"]] == RED and state["frame"][7][7] == [0, 0, 80]
    sisock = os.path.join(os.path.dirname(sys.executable), "sisock")
    done = yield threads.deferToThread(subprocess.run, [sisock, "call", "pixels", "fill", "color=[0,0,80]"],
                                       env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    state = yield pix.consumer.call(uri.node_uri("pixels", "get_state"))
    assert state["frame"] == [[[0, 0, 80]] * 8] * 8


def test_the_neopixel_output_without_its_library_says_what_to_install_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "nodes.pixels", "--output", "neopixel"], capture_output=True,
                          text=True, timeout=60, cwd=PROJECT_DIR,
                          env=dict(os.environ, SISOCK_NODE_SECRET="x", SISOCK_HOME=str(tmp_path)))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stdout == "", done.stderr
    assert "needs the module 'neopixel'" in done.stderr and "pip install adafruit-circuitpython-neopixel" in done.stderr
