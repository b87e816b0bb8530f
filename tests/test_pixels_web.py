"""The pixel display drawn live by the web client, in real headless Chromium (see `tests.test_web`)."""

import numpy as np
import pytest
import pytest_twisted
from twisted.internet import threads

from sisock.wire import uri
from tests.registry_support import connect_node
from tests.test_web import Scenario, browser, run  # noqa: F401  (browser: the fixture that checks Chromium is there)

RED, BLUE, GREEN = [255, 0, 0], [0, 0, 255], [0, 255, 0]


@pytest.fixture(scope="module")
def display(stack):
    """A 6x4 display ``webpixels`` on the session stack, and a device (node ``webdevice``) that changes it."""
    proc = stack.spawn("webpixels", "nodes.pixels", "--name", "webpixels", "--width", "6", "--height", "4")
    device = pytest_twisted.blockon(connect_node(stack, "webdevice"))
    yield device
    pytest_twisted.blockon(device.close())
    proc.stop()


@pytest.fixture(scope="module")
def strip(stack, display):
    """A 16-pixel strip ``webstrip`` with a description of its own, described by the device as a race."""
    proc = stack.spawn("webstrip", "nodes.pixels", "--name", "webstrip", "--strip", "16", "--description",
                       "race track of the lab")
    yield "webstrip"
    proc.stop()


def tell(scenario, seq):
    """Let the scenario go on: it waits until frame ``seq`` is drawn, then reads the canvas back."""
    scenario.proc.stdin.write(f"{seq}\n")
    scenario.proc.stdin.flush()


@pytest_twisted.inlineCallbacks
def test_the_page_draws_the_display_at_once_and_then_each_fill_and_set(browser, stack, display):  # noqa: F811
    def change(procedure, *args, **kwargs):
        return display.call(uri.node_uri("webpixels", procedure), *args, **kwargs)

    def state():
        return display.call(uri.node_uri("webpixels", "get_state"))

    yield change("set_frame", np.random.default_rng(7).integers(0, 256, (4, 6, 3), dtype=np.uint8).tobytes())
    expected = [(yield state())]
    scenario = Scenario(browser, "pixels", f"http://127.0.0.1:{stack.port}/", "--node", "webpixels")
    try:
        yield threads.deferToThread(scenario.step, "initial")
        yield change("fill", BLUE)
        expected.append((yield state()))
        tell(scenario, expected[-1]["seq"])
        yield threads.deferToThread(scenario.step, "filled")
        yield change("set", RED, x=4, y=2, show=False)
        yield change("set", GREEN, index=1)
        expected.append((yield state()))
        tell(scenario, expected[-1]["seq"])
        result = yield threads.deferToThread(scenario.result)
    finally:
        scenario.kill()
    drawn = result["drawn"]
    assert [d["seq"] for d in drawn] == [e["seq"] for e in expected]
    for seen, shown in zip(drawn, expected, strict=True):
        assert seen["grid"] == shown["frame"]
    assert drawn[1]["grid"] == [[BLUE] * 6] * 4
    assert drawn[2]["grid"][2][4] == RED and drawn[2]["grid"][0][1] == GREEN
    assert result["getState"] == 1  # the changes arrived as frame events, not by asking again
    assert result["caption"].startswith(f"6 x 4, frame {expected[-1]['seq']} ")
    # the fields table: a pixel's colour as a swatch and #rrggbb; the frame's hex cut; the page no wider than the window
    assert result["pixelValue"] == {"text": "#00ff00", "swatch": "rgb(0, 255, 0)"}
    assert result["frameValue"].endswith("… (144 characters)")
    assert result["widths"]["page"] <= result["widths"]["window"]


@pytest_twisted.inlineCallbacks
def test_a_described_strip_is_drawn_tall_enough_to_read_with_its_text_and_legend(browser, stack, display,  # noqa: F811
                                                                                   strip):
    legend = {"player 1": RED, "player 2": GREEN, "junk ship": [120, 120, 120]}
    yield display.call(uri.node_uri(strip, "describe"), "A race: ships move right", legend=legend)
    yield display.call(uri.node_uri(strip, "set"), RED, index=3)
    result = yield run(browser, stack, "pixels-legend", "--node", strip)
    assert result["about"] == "A race: ships move right"
    assert result["legend"] == [[label, ",".join(map(str, colour))] for label, colour in legend.items()]
    assert result["drawing"]["swatch"] == "rgb(255, 0, 0)"
    assert result["drawing"]["height"] >= 32  # was one 8 px row
    assert result["description"] == "race track of the lab"
    assert result["registryValues"] == {"p0003": "#ff0000", "frame": "000000000000000000ff0000… (96 characters)"}
