"""The hub: add, duplicate, subtract, events, automatic removal, roles."""

import signal

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError

from sisock import client
from sisock.wire import uri
from sisock.wire.errors import InvalidArgument, NoSuchNode, NotAuthorized


@pytest.fixture
def as_node(stack):
    """Factory: Deferred of a session authenticated as node ``authid``; all closed after the test."""
    sessions = []

    def connect(authid):
        d = client.connect(stack.url, authid=authid, secret=stack.secret("node"))
        return d.addCallback(lambda session: sessions.append(session) or session)

    yield connect
    for s in sessions:
        pytest_twisted.blockon(s.close())


def names(nodes):
    return [n["name"] for n in nodes]


@pytest_twisted.inlineCallbacks
def test_add_returns_true_lists_the_node_and_publishes_one_added_event(as_node, consumer, events):
    added = events()
    yield consumer.subscribe(added, uri.DATA_NODE_ADDED)
    node = yield as_node("hubtest_add")
    ok = yield node.call(uri.DATA_NODE_ADD, "hubtest_add", "a test node", node._session_id)
    assert ok is True
    yield added.wait(lambda items: any(e["name"] == "hubtest_add" for e in items))
    assert [e for e in added.items if e["name"] == "hubtest_add"] == [
        {"name": "hubtest_add", "description": "a test node"}]
    listed = yield consumer.get_data_node()
    assert {"name": "hubtest_add", "description": "a test node"} in listed
    again = yield node.call(uri.DATA_NODE_ADD, "hubtest_add", "a test node", node._session_id)
    assert again is True
    assert names((yield consumer.get_data_node())).count("hubtest_add") == 1


@pytest_twisted.inlineCallbacks
def test_a_name_owned_by_a_live_session_is_refused(as_node, consumer):
    first = yield as_node("hubtest_dup")
    second = yield as_node("hubtest_dup")
    assert (yield first.call(uri.DATA_NODE_ADD, "hubtest_dup", "first", first._session_id)) is True
    # The session id argument is not trusted: claiming the owner's id changes nothing.
    assert (yield second.call(uri.DATA_NODE_ADD, "hubtest_dup", "second", first._session_id)) is False
    listed = yield consumer.get_data_node()
    assert {"name": "hubtest_dup", "description": "first"} in listed


@pytest_twisted.inlineCallbacks
def test_only_the_owner_subtracts_and_one_subtracted_event_is_published(as_node, consumer, events):
    gone = events()
    yield consumer.subscribe(gone, uri.DATA_NODE_SUBTRACTED)
    owner = yield as_node("hubtest_sub")
    other = yield as_node("hubtest_sub")
    yield owner.call(uri.DATA_NODE_ADD, "hubtest_sub", "d", owner._session_id)
    with pytest.raises(NotAuthorized):
        yield other.call(uri.DATA_NODE_SUBTRACT, "hubtest_sub", owner._session_id)
    result = yield owner.call(uri.DATA_NODE_SUBTRACT, "hubtest_sub", owner._session_id)
    assert result is None
    yield gone.wait(lambda items: any(e["name"] == "hubtest_sub" for e in items))
    assert "hubtest_sub" not in names((yield consumer.get_data_node()))
    with pytest.raises(NoSuchNode):
        yield owner.call(uri.DATA_NODE_SUBTRACT, "hubtest_sub", owner._session_id)
    assert [e["name"] for e in gone.items].count("hubtest_sub") == 1


@pytest_twisted.inlineCallbacks
def test_a_node_session_leaving_is_subtracted(as_node, consumer, events):
    gone = events()
    yield consumer.subscribe(gone, uri.DATA_NODE_SUBTRACTED)
    node = yield as_node("hubtest_leave")
    yield node.call(uri.DATA_NODE_ADD, "hubtest_leave", "d", node._session_id)
    yield node.close()
    yield gone.wait(lambda items: [e["name"] for e in items] == ["hubtest_leave"], timeout=2.0)
    assert "hubtest_leave" not in names((yield consumer.get_data_node()))


@pytest_twisted.inlineCallbacks
def test_a_node_cannot_add_a_name_other_than_its_authid(as_node):
    node = yield as_node("hubtest_me")
    with pytest.raises(NotAuthorized):
        yield node.call(uri.DATA_NODE_ADD, "weather_impostor", "d", node._session_id)
    # Its own sub-names are allowed.
    assert (yield node.call(uri.DATA_NODE_ADD, "hubtest_me.lamp1", "d", node._session_id)) is True


@pytest.mark.parametrize("args, wrong", [
    ((123, "d", 1), "name"),
    (("bad name!", "d", 1), "name"),
    (("x" * 300, "d", 1), "name"),
    (("hubtest_me", ["not", "text"], 1), "description"),
])
@pytest_twisted.inlineCallbacks
def test_bad_add_arguments_get_invalid_argument_naming_the_argument(as_node, args, wrong):
    node = yield as_node("hubtest_me")
    with pytest.raises(InvalidArgument) as info:
        yield node.call(uri.DATA_NODE_ADD, *args)
    assert wrong in info.value.message


@pytest_twisted.inlineCallbacks
def test_a_killed_node_is_subtracted_within_2_s_and_its_name_can_be_added_again(stack, consumer, events):
    gone, added = events(), events()
    yield consumer.subscribe(gone, uri.DATA_NODE_SUBTRACTED)
    yield consumer.subscribe(added, uri.DATA_NODE_ADDED)
    victim = stack.spawn("victim", "nodes.weather", "--name", "weather_victim", ready=False)
    yield victim.ready()
    assert "weather_victim" in names((yield consumer.get_data_node()))
    victim.signal(signal.SIGKILL)
    yield gone.wait(lambda items: any(e["name"] == "weather_victim" for e in items), timeout=2.0)
    assert "weather_victim" not in names((yield consumer.get_data_node()))
    stack.spawn("victim", "nodes.weather", "--name", "weather_victim", ready=False)
    yield added.wait(lambda items: [e["name"] for e in items].count("weather_victim") == 2)
    assert "weather_victim" in names((yield consumer.get_data_node()))


@pytest.mark.parametrize("action", ["register", "publish", "add"])
@pytest_twisted.inlineCallbacks
def test_an_anonymous_consumer_may_not_register_publish_or_add(consumer, action):
    with pytest.raises(ApplicationError) as info:
        if action == "register":
            yield consumer.register(lambda: None, uri.node_uri("unclaimed_name", "get_data"))
        elif action == "publish":
            yield consumer.publish(uri.node_uri("sensors", "data"), {}, options=_acknowledged())
        else:
            yield consumer.call(uri.DATA_NODE_ADD, "intruder", "d", 1)
    assert info.value.error == "wamp.error.not_authorized"


@pytest_twisted.inlineCallbacks
def test_a_node_may_not_register_under_another_nodes_name(as_node):
    node = yield as_node("hubtest_other")
    with pytest.raises(ApplicationError) as info:
        yield node.register(lambda *a: None, uri.node_uri("unclaimed_name", "get_data"))
    assert info.value.error == "wamp.error.not_authorized"
    yield node.register(lambda *a: None, uri.node_uri("hubtest_other", "get_data"))


def _acknowledged():
    from autobahn.wamp.types import PublishOptions

    return PublishOptions(acknowledge=True)
