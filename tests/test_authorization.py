"""Authorization decided inside the router worker: no node can act as another, consumers only read.

Crossbar caches an authorization per role, URI and action, so a design that
let the router cache a node's publish would let the next node of the same
role publish on that URI too. These tests let the rightful node act first,
so that any such cache is filled, and then try the impostor.
"""

import os

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions

from sisock import client, config
from sisock.wire import uri

ACK = PublishOptions(acknowledge=True)


@pytest.fixture
def as_node(stack):
    """Factory: Deferred of a session authenticated as node ``authid``; all closed after the test."""
    secret = config.load_secret("node", os.path.join(stack.env["SISOCK_HOME"], "secrets.json"))
    sessions = []

    def connect(authid):
        d = client.connect(stack.url, authid=authid, secret=secret)
        return d.addCallback(lambda session: sessions.append(session) or session)

    yield connect
    for s in sessions:
        pytest_twisted.blockon(s.close())


def refused(deferred):
    """Deferred: fires with the error URI the router answered ``deferred`` with (fails if it succeeded)."""

    def check(result):
        raise AssertionError(f"expected a refusal, got {result!r}")

    return deferred.addCallbacks(check, lambda failure: failure.trap(ApplicationError) and failure.value.error)


def test_the_router_worker_decides_every_role_itself(stack):
    assert "sisock: roles hub, node, consumer, admin, operator are authorized in the router worker" in \
        stack.router.output()


@pytest_twisted.inlineCallbacks
def test_a_node_may_not_publish_on_another_nodes_topic_after_that_node_did(as_node, consumer, events):
    owner = yield as_node("authz_owner")
    impostor = yield as_node("authz_impostor")
    seen = events()
    yield consumer.subscribe(seen, uri.node_uri("authz_owner", "data"))
    yield owner.publish(uri.node_uri("authz_owner", "data"), {"from": "owner"}, options=ACK)
    for _ in range(3):  # again and again: a remembered "allowed" would show on a later try
        assert (yield refused(impostor.publish(uri.node_uri("authz_owner", "data"), {"from": "impostor"},
                                               options=ACK))) == "wamp.error.not_authorized"
    yield owner.publish(uri.node_uri("authz_owner", "data"), {"from": "owner"}, options=ACK)
    yield seen.wait(lambda items: len(items) >= 2, what="the owner's two events")
    assert [e["from"] for e in seen.items] == ["owner", "owner"]


@pytest_twisted.inlineCallbacks
def test_a_node_may_not_register_a_procedure_another_node_registered_before(as_node):
    owner = yield as_node("authz_reg_owner")
    impostor = yield as_node("authz_reg_impostor")
    name = uri.node_uri("authz_reg_owner", "get_api")
    registration = yield owner.register(lambda: "owner", name)
    yield registration.unregister()  # free again: only the router's rule can stop the impostor now
    assert (yield refused(impostor.register(lambda: "impostor", name))) == "wamp.error.not_authorized"


@pytest.mark.parametrize("other", ["authz_p_longer", "authz_", "authz"])
@pytest_twisted.inlineCallbacks
def test_a_node_names_prefix_covers_its_hosted_nodes_and_no_other_name(as_node, other):
    node = yield as_node("authz_p")
    owner = yield as_node(other)
    yield node.publish(uri.node_uri("authz_p.lamp1", "data"), {}, options=ACK)  # a node it hosts
    yield owner.publish(uri.node_uri(other, "data"), {}, options=ACK)
    assert (yield refused(node.publish(uri.node_uri(other, "data"), {}, options=ACK))) == "wamp.error.not_authorized"
    assert (yield refused(owner.publish(uri.node_uri("authz_p.lamp1", "data"), {}, options=ACK))) == \
        "wamp.error.not_authorized"


@pytest.mark.parametrize("topic", [uri.DATA_NODE_ADDED, uri.DATA_NODE_SUBTRACTED, uri.NODE_CHANGED, uri.HUB_ONLINE,
                                   uri.NODE_STATE])
@pytest_twisted.inlineCallbacks
def test_a_node_may_not_publish_what_only_the_hub_publishes(as_node, topic):
    node = yield as_node("authz_hubtopics")
    assert (yield refused(node.publish(topic, {"name": "weather"}, options=ACK))) == "wamp.error.not_authorized"


@pytest_twisted.inlineCallbacks
def test_an_anonymous_consumer_stays_read_only_after_nodes_acted_on_the_same_names(as_node, consumer):
    node = yield as_node("authz_ro")
    yield node.publish(uri.node_uri("authz_ro", "data"), {}, options=ACK)
    registration = yield node.register(lambda: "node", uri.node_uri("authz_ro", "get_api"))
    assert (yield consumer.call(uri.node_uri("authz_ro", "get_api"))) == "node"
    yield registration.unregister()
    assert (yield refused(consumer.publish(uri.node_uri("authz_ro", "data"), {}, options=ACK))) == \
        "wamp.error.not_authorized"
    assert (yield refused(consumer.register(lambda: "consumer", uri.node_uri("authz_ro", "get_api")))) == \
        "wamp.error.not_authorized"
    assert (yield refused(consumer.publish(uri.HUB_HEARTBEAT, options=ACK))) == "wamp.error.not_authorized"
    assert (yield refused(consumer.call(uri.node_uri("weather", "command"), "status"))) == \
        "wamp.error.not_authorized"
