"""One node model, one session adapter: hosted nodes get every feature a node of its own has,
and a node may declare procedures of its own."""

import sys
import textwrap

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError

from sisock import client
from sisock.wire import uri
from sisock.wire.errors import InvalidArgument, NotAuthorized
from tests.conftest import Proc, pause
from tests.registry_support import connect_admin, connect_node, joined, secret, start_stack, until

#: Small limits for the fleet process, so that a minute of a lamp's samples is a chunked answer.
LIMITS = {"SISOCK_CHUNK_BYTES": "4096", "SISOCK_MAX_MESSAGE_BYTES": "4096"}


@pytest.fixture(scope="module")
def small_fleet(tmp_path_factory):
    """A router, a hub and 3 lamps sampled every 0.02 s, with 4 KiB chunk and message limits."""
    stack = start_stack(tmp_path_factory.mktemp("hosted"))
    try:
        stack.env = dict(stack.env, **LIMITS)
        stack.fleet = stack.spawn("fleet", "nodes.fleet", "--count", "3", "--interval", "0.02")
    except BaseException:
        stack.stop()
        raise
    yield stack
    stack.stop()


@pytest.fixture
def consumer(small_fleet):
    yield from joined(small_fleet.connect())


@pytest.fixture
def admin(small_fleet):
    yield from joined(connect_admin(small_fleet))


@pytest_twisted.inlineCallbacks
def test_a_hosted_nodes_large_get_data_arrives_in_chunks_for_the_client(consumer):
    yield _samples_recorded(consumer, "fleet.lamp0002", 300)
    progress = []
    result = yield consumer.get_data("fleet.lamp0002", ["power_w", "state"], 1, 0,
                                     progress=lambda done, total: progress.append((done, total)))
    n = len(result["timeline"]["lamp"]["t"])
    assert n >= 300 and len(result["data"]["power_w"]) == len(result["data"]["state"]) == n
    assert len(progress) >= 2 and progress[-1][0] == progress[-1][1]  # several chunks, all of them


@pytest_twisted.inlineCallbacks
def test_a_caller_without_progressive_results_gets_too_large_from_a_hosted_node(consumer):
    yield _samples_recorded(consumer, "fleet.lamp0001", 300)
    with pytest.raises(ApplicationError) as raised:
        yield consumer.call(uri.node_uri("fleet.lamp0001", "get_data"), ["power_w", "state"], 1, 0)
    assert raised.value.error == uri.uri("error.too_large")


@pytest.mark.parametrize("args, kwargs", [
    ((["power_w"], 1, 0, None, "extra"), {}),       # one positional argument too many
    ((["power_w"],), {}),                            # start and end missing
    ((["power_w"], 1, 0), {"colour": "blue"}),       # an unknown keyword
])
@pytest_twisted.inlineCallbacks
def test_a_call_that_does_not_fit_get_data_is_invalid_argument_naming_the_signature(consumer, args, kwargs):
    with pytest.raises(ApplicationError) as raised:
        yield consumer.call(uri.node_uri("fleet.lamp0003", "get_data"), *args, **kwargs)
    assert raised.value.error == InvalidArgument.uri()
    assert "get_data takes (field, start, end, min_stride=None" in raised.value.args[0]


@pytest_twisted.inlineCallbacks
def test_get_fields_with_a_missing_argument_is_invalid_argument(consumer):
    with pytest.raises(ApplicationError) as raised:
        yield consumer.call(uri.node_uri("fleet.lamp0003", "get_fields"), 1)
    assert raised.value.error == InvalidArgument.uri() and "get_fields takes (start, end)" in raised.value.args[0]


@pytest_twisted.inlineCallbacks
def test_a_procedure_a_node_does_not_have_is_no_such_procedure(consumer):
    for procedure in (uri.node_uri("fleet.lamp0003", "delete_everything"), uri.node_uri("fleet.lamp9999", "get_data")):
        with pytest.raises(ApplicationError) as raised:
            yield consumer.call(procedure, ["power_w"], 1, 0)
        assert raised.value.error == ApplicationError.NO_SUCH_PROCEDURE


@pytest_twisted.inlineCallbacks
def test_each_timeline_of_an_answer_names_its_fields(consumer):
    result = yield consumer.get_data("fleet.lamp0003", ["power_w", "state", "no_such_field"], -60, 0)
    assert result["timeline"]["lamp"]["field"] == ["power_w", "state"]
    assert len(result["data"]["no_such_field"]) == 0


@pytest_twisted.inlineCallbacks
def test_hub_online_events_while_a_name_is_refused_keep_one_retry_going(small_fleet, admin):
    """A node whose name another session owns retries every 2 s, however often the hub says it is online."""
    squatter = yield connect_node(small_fleet, "squat")
    assert (yield squatter.call(uri.DATA_NODE_ADD, "squat", "holds the name", squatter._session_id))
    node = small_fleet.spawn("squat_node", "nodes.weather", "--name", "squat", ready=False)
    try:
        yield node.wait_output("squat; retrying", timeout=20)
        hub_like = yield client.connect(small_fleet.url, authid="hub", secret=secret(small_fleet, "hub"))
        for _ in range(20):  # as a hub restarting over and over would
            hub_like.publish(uri.HUB_ONLINE)
        yield pause(4.5)
        yield hub_like.close()
        # one retry chain: a refusal each 2 s (and one per hub.online), not one more chain per event
        refusals_before = node.count("squat; retrying")
        yield pause(4.2)
        assert node.count("squat; retrying") - refusals_before <= 3
        yield squatter.close()
        yield node.ready(timeout=20)
    finally:
        node.stop()


def _samples_recorded(consumer, node, n):
    """Deferred: until ``node`` has recorded at least ``n`` samples."""
    return until(lambda: consumer.get_data(node, ["faults"], 1, 0),
                 lambda result: len(result["timeline"].get("lamp", {}).get("t", ())) >= n,
                 f"{n} samples of {node}", timeout=30.0, interval=0.5)


PROCEDURE_NODE = textwrap.dedent('''
    from sisock.node import DataNodeServer, run_node
    from sisock.node.procedures import procedure


    class Shelf(DataNodeServer):
        """A node with procedures of its own."""

        name = "shelf"
        items = []

        @procedure
        def echo(self, text: str, times: int = 1):
            return text * times

        @procedure(name="items.add", roles=("admin",))
        def add_item(self, item):
            self.items.append(item)
            return len(self.items)


    if __name__ == "__main__":
        run_node(Shelf)
''')


@pytest.fixture(scope="module")
def shelf(stack, tmp_path_factory):
    """A node declaring ``echo`` (open) and ``items.add`` (admins only)."""
    directory = tmp_path_factory.mktemp("shelf")
    (directory / "shelf.py").write_text(PROCEDURE_NODE)
    proc = Proc("shelf", [sys.executable, str(directory / "shelf.py"), "--data-dir", str(directory)], stack.env,
                str(directory)).start()
    pytest_twisted.blockon(proc.ready())
    yield proc
    proc.stop()


@pytest_twisted.inlineCallbacks
def test_a_nodes_own_procedure_answers_any_caller_and_checks_its_arguments(shelf, stack):
    consumer = yield stack.connect()
    try:
        assert (yield consumer.call(uri.node_uri("shelf", "echo"), "ab", times=3)) == "ababab"
        with pytest.raises(ApplicationError) as raised:
            yield consumer.call(uri.node_uri("shelf", "echo"))
        assert raised.value.error == InvalidArgument.uri() and "echo takes (text, times=1)" in raised.value.args[0]
    finally:
        yield consumer.close()


@pytest_twisted.inlineCallbacks
def test_an_admin_procedure_with_a_dotted_name_is_refused_to_consumers_and_served_to_admins(shelf, stack):
    consumer = yield stack.connect()
    admin = yield client.connect(stack.url, authid="admin", secret=stack.secret("admin"))
    try:
        with pytest.raises(ApplicationError) as raised:
            yield consumer.call(uri.node_uri("shelf", "items.add"), "jam")
        assert raised.value.error == NotAuthorized.uri() and "by admin sessions only" in raised.value.args[0]
        assert (yield admin.call(uri.node_uri("shelf", "items.add"), "jam")) == 1
        assert (yield admin.call(uri.node_uri("shelf", "items.add"), "tea")) == 2
    finally:
        yield consumer.close()
        yield admin.close()


@pytest_twisted.inlineCallbacks
def test_a_nodes_procedures_are_registered_exactly_as_well_as_by_prefix(shelf, stack):
    # the router matches an exact URI in one lookup (a prefix by walking a trie): a session of the node's
    # own authid finds every procedure URI of the node taken, standard or its own, and a free one free
    squatter = yield connect_node(stack, "shelf")
    try:
        for name in ("get_data", "get_latest", "get_fields", "command", "get_api", "echo", "items.add"):
            with pytest.raises(ApplicationError) as raised:
                yield squatter.register(lambda *args, **kwargs: None, uri.node_uri("shelf", name))
            assert raised.value.error == ApplicationError.PROCEDURE_ALREADY_EXISTS, name
        free = yield squatter.register(lambda *args, **kwargs: None, uri.node_uri("shelf", "not_served"))
        yield free.unregister()
    finally:
        yield squatter.close()


TIDY_NODE = textwrap.dedent('''
    import gc

    import numpy as np

    from sisock.node import DataNodeServer, run_node
    from sisock.node.procedures import procedure


    class Tidy(DataNodeServer):
        """A node that keeps what Python's cycle collector finds (gc.DEBUG_SAVEALL) and names its types."""

        name = "tidy"

        def __init__(self, config):
            super().__init__(config)
            self.declare("main", {"x": {"units": "V"}}, interval=1.0)
            self.store.append("main", 1500000000.0 + np.arange(10.0), {"x": np.arange(10.0)})

        @procedure
        def collected(self):
            gc.collect()
            return sorted({type(o).__name__ for o in gc.garbage})


    if __name__ == "__main__":
        gc.set_debug(gc.DEBUG_SAVEALL)
        run_node(Tidy)
''')


@pytest_twisted.inlineCallbacks
def test_a_get_data_call_leaves_no_reference_cycle_behind(stack, tmp_path_factory):
    # autobahn puts the call details, whose progress callback refers to the message, into the message's
    # keyword arguments: the node breaks that cycle once it has answered, or the cycle collector would run
    directory = tmp_path_factory.mktemp("tidy")
    (directory / "tidy.py").write_text(TIDY_NODE)
    node = Proc("tidy", [sys.executable, str(directory / "tidy.py"), "--data-dir", str(directory)], stack.env,
                str(directory)).start()
    consumer = yield stack.connect()
    try:
        yield node.ready()
        for _ in range(30):
            result = yield consumer.get_data("tidy", ["x"], 1500000002, 1500000004)  # keywords, progress
            assert list(result["data"]["x"]) == [2.0, 3.0]
        yield consumer.get_data("tidy", ["x"], 1, 0, encoding="list")
        assert "CallDetails" not in (yield consumer.call(uri.node_uri("tidy", "collected")))
    finally:
        yield consumer.close()
        node.stop()


def test_a_procedure_may_not_take_a_standard_name_or_a_bad_one():
    from sisock.node.procedures import procedure

    for name in ("get_data", "command", "items..add", "1st", ""):
        with pytest.raises(ValueError):
            procedure(name=name)(lambda self: None)
