"""How the bridge learns targets and timelines: from the hub's events and the get_data answer, no extra lookups.

Each test starts a node of its own that speaks the wire directly (as the
original sisock did, or with the ``field`` map in its get_data answers) and
prints one ``GET_FIELDS`` line per ``get_fields`` call, so the calls the
bridge makes are counted on the node itself.
"""

import json
import signal
import sys
import textwrap

import pytest
import pytest_twisted
import requests

from tests.conftest import Proc, wait_for

TIMEOUT = 30

# A node on the wire: get_fields and get_data registered by hand, added to the hub.
# Field "a" is on timeline "one" (t = T); field "b" on "one" too, or on "two" (t = T + 5 s).
WIRE_NODE = textwrap.dedent('''
    import sys

    from autobahn.wamp.types import ComponentConfig
    from twisted.internet import defer

    from sisock import config
    from sisock.connection import SisockSession, run
    from sisock.wire import uri

    NAME, TIMELINES, SENDS_FIELD = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "field"
    T = [1500000000.0 + 10 * i for i in range(6)]
    ON = {"a": "one", "b": "two" if TIMELINES == 2 else "one"}
    SHIFT = {"one": 0.0, "two": 5.0}


    class WireNode(SisockSession):
        @defer.inlineCallbacks
        def onJoin(self, details):
            yield self.register(self.get_fields, uri.node_uri(NAME, "get_fields"))
            yield self.register(self.get_data, uri.node_uri(NAME, "get_data"))
            yield self.call(uri.DATA_NODE_ADD, NAME, "a node on the bare wire", details.session)
            SisockSession.onJoin(self, details)

        def get_fields(self, start, end):
            print("GET_FIELDS", flush=True)
            field = {f: {"description": f, "timeline": tl, "type": "number", "units": None} for f, tl in ON.items()}
            timeline = {tl: {"interval": 10.0, "field": [f for f in ON if ON[f] == tl]} for tl in set(ON.values())}
            return [field, timeline]

        def get_data(self, field, start, end, min_stride=None, **options):
            data, timeline = {}, {}
            for f in field:
                if f not in ON:
                    data[f] = []
                    continue
                tl = ON[f]
                t = [x + SHIFT[tl] for x in T if start <= x + SHIFT[tl] < end]
                data[f] = [(100.0 if f == "b" else 0.0) + i for i in range(len(t))]
                entry = timeline.setdefault(tl, {"t": t, "finalized_until": t[-1] if t else None})
                if SENDS_FIELD:
                    entry.setdefault("field", []).append(f)
            return {"data": data, "timeline": timeline}


    if __name__ == "__main__":
        authid = NAME
        conn = config.Connection(config.env("URL"), "sisock", authid, config.load_secret("node", authid=authid))
        session = WireNode(ComponentConfig("sisock", {"connection": conn}))
        session.ready_label = NAME
        run(session)
''')

RANGE = {"from": "2017-07-14T02:40:00Z", "to": "2017-07-14T02:42:00Z"}  # 1500000000 .. 1500000120


@pytest.fixture
def wire_node(stack, tmp_path):
    """Factory: start a wire node ``(name, timelines, sends_field)``, ready; all stopped after the test."""
    script = tmp_path / "wire_node.py"
    script.write_text(WIRE_NODE)
    procs = []

    def start(name, timelines, sends_field):
        argv = [sys.executable, str(script), name, str(timelines), "field" if sends_field else "old"]
        proc = Proc(name, argv, stack.env, str(tmp_path)).start()
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stop()


def post(stack, path, body):
    response = requests.post(stack.bridge_url + path, data=json.dumps(body), timeout=TIMEOUT,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


def search(stack):
    return post(stack, "/search", {"target": ""})


@pytest.mark.parametrize("timelines, sends_field, lookups", [
    (2, True, 0),    # a current node: the answer says which timeline each field is on
    (1, False, 0),   # an old node on one timeline: every field is on it
    (2, False, 1),   # an old node on two: one get_fields call
])
@pytest_twisted.inlineCallbacks
def test_a_query_takes_each_fields_timeline_from_the_answer_and_asks_get_fields_only_of_an_old_node_with_several(
        stack, wire_node, timelines, sends_field, lookups):
    name = f"wire{timelines}{'new' if sends_field else 'old'}"
    node = wire_node(name, timelines, sends_field)
    yield node.ready()
    for _ in range(2):
        before = node.count("GET_FIELDS")
        a, b, missing = post(stack, "/query", {"range": RANGE, "targets": [
            {"target": f"{name}::a"}, {"target": f"{name}::b"}, {"target": f"{name}::nope"}]})
        assert node.count("GET_FIELDS") - before == lookups
        t0 = 1500000000000
        assert a["datapoints"] == [[float(i), t0 + 10000 * i] for i in range(6)]
        shift = 5000 if timelines == 2 else 0
        assert b["datapoints"] == [[100.0 + i, t0 + shift + 10000 * i] for i in range(6)]
        assert missing["datapoints"] == [] and name in missing["meta"]["message"]


@pytest_twisted.inlineCallbacks
def test_search_lists_a_node_added_later_drops_it_once_gone_and_asks_each_node_for_its_fields_only_once(
        stack, wire_node):
    assert not any(t.startswith("lamp::") for t in search(stack))
    node = wire_node("lamp", 2, True)
    yield node.ready()
    yield wait_for(lambda: {"lamp::a", "lamp::b"} <= set(search(stack)), 15, "lamp's targets in /search",
                   interval=0.1)
    calls = node.count("GET_FIELDS")
    assert calls >= 1
    assert {"lamp::a", "lamp::b"} <= set(search(stack))
    assert {"label": "lamp::a", "value": "lamp::a"} in post(stack, "/metrics", {"metric": ""})
    assert {"__text": "lamp", "__value": "lamp"} in post(stack, "/variable", {"payload": {"target": "*"}})
    assert {"text": "lamp"} in post(stack, "/tag-values", {"key": "node"})
    assert node.count("GET_FIELDS") == calls
    node.stop()
    yield wait_for(lambda: not any(t.startswith("lamp::") for t in search(stack)), 15,
                   "lamp's targets gone from /search", interval=0.1)
    assert "weather::temperature" in search(stack)


@pytest_twisted.inlineCallbacks
def test_a_node_that_left_while_the_hub_was_down_is_not_listed_once_the_hub_is_back(fresh_stack, tmp_path):
    s = fresh_stack
    bridge = s.spawn_bridge(ready=False)
    script = tmp_path / "wire_node.py"
    script.write_text(WIRE_NODE)
    node = Proc("ghost", [sys.executable, str(script), "ghost", "1", "field"], s.env, str(tmp_path)).start()
    try:
        yield bridge.ready()
        yield node.ready()
        yield wait_for(lambda: "ghost::a" in search(s), 15, "ghost::a in /search", interval=0.1)
        s.hub.signal(signal.SIGKILL)  # no data_node_subtracted for ghost: nobody sees it leave
        s.hub.popen.wait(10)
        node.stop()
        down = requests.post(s.bridge_url + "/search", json={}, timeout=TIMEOUT)
        assert down.status_code == 503 and "hub" in down.json()["message"]
        s.hub.start()
        yield s.hub.ready()
        assert search(s) == ["alerts"]  # no node's targets, only the alert table (grafana_bridge.alerts)
    finally:
        node.stop()
