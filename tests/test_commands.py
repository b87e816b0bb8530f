"""Commands: a `DataNodeServer` declares them with a decorator; get_api lists them."""

import enum
import inspect
from typing import Literal

import pytest
import pytest_twisted
from autobahn.wamp.types import ComponentConfig
from twisted.internet import threads

from sisock import config
from sisock.connection import start
from sisock.node import DataNodeServer, argtypes
from sisock.node.commands import command, describe_command
from sisock.wire import uri
from sisock.wire.errors import InvalidArgument, NodeError, NoSuchCommand
from tests.registry_support import connect_admin, joined, secret, start_stack


class Thermostat(DataNodeServer):
    """A thermostat with commands."""

    name = "cmdtest_thermostat"
    description = "A thermostat on the bench"

    def __init__(self, config=None):
        super().__init__(config)
        self.setpoint = 20.0
        self.declare("room", {"temperature": {"units": "C", "description": "air"}}, interval=1.0, capacity=10)

    @command
    def set_point(self, celsius: float, ramp: float = 0.0):
        """Set the target temperature.

        Parameters
        ----------
        celsius : float
            Target, degrees Celsius.
        ramp : float
            Seconds to get there.
        """
        self.setpoint = celsius
        return {"setpoint": self.setpoint, "ramp": ramp}

    @command(name="rename")
    def _rename(self, name: str):
        """A command with a parameter called name."""
        return f"now {name}"

    @command
    def measure(self):
        """Read the sensor in a thread."""
        return threads.deferToThread(lambda: 21.5)

    @command
    def whoami(self, details=None):
        """Who called: the caller's authid and role, as the router disclosed them."""
        return [details.caller_authid, details.caller_authrole]

    @command
    def explode(self):
        """Fail like a bug would."""
        raise RuntimeError("the fuse blew")


@pytest.fixture(scope="module")
def thermostat(tmp_path_factory):
    """A router, a hub, and a `Thermostat` running in this process."""
    stack = start_stack(tmp_path_factory.mktemp("commands"))
    conn = config.Connection(stack.url, "sisock", Thermostat.name, secret(stack, "node"))
    node = Thermostat(ComponentConfig("sisock", {"connection": conn}))
    start(node)
    pytest_twisted.blockon(node.when_joined())
    stack.node = node
    yield stack
    pytest_twisted.blockon(node.close())
    node._presence.loop.stop()
    stack.stop()


@pytest.fixture
def admin(thermostat):
    yield from joined(connect_admin(thermostat))


def procedure(suffix):
    return uri.node_uri(Thermostat.name, suffix)


@pytest_twisted.inlineCallbacks
def test_a_decorated_method_is_a_command_with_keyword_or_positional_arguments(thermostat, admin):
    assert (yield admin.call(procedure("command"), "set_point", celsius=18.5)) == {"setpoint": 18.5, "ramp": 0.0}
    assert (yield admin.call(procedure("command"), "set_point", 19, 60)) == {"setpoint": 19, "ramp": 60}
    assert thermostat.node.setpoint == 19
    assert (yield admin.call(procedure("command"), "rename", name="kitchen")) == "now kitchen"
    assert (yield admin.call(procedure("command"), "measure")) == 21.5


@pytest_twisted.inlineCallbacks
def test_unknown_commands_wrong_arguments_and_failures_get_clear_errors(admin):
    with pytest.raises(NoSuchCommand) as info:
        yield admin.call(procedure("command"), "set_pint", celsius=1)
    assert "set_pint" in info.value.message and "set_point" in info.value.message
    with pytest.raises(InvalidArgument) as info:
        yield admin.call(procedure("command"), "set_point", kelvin=290)
    assert "kelvin" in info.value.message and "set_point(celsius, ramp=0.0)" in info.value.message
    with pytest.raises(InvalidArgument):
        yield admin.call(procedure("command"))
    with pytest.raises(NodeError) as info:
        yield admin.call(procedure("command"), "explode")
    assert "the fuse blew" in info.value.message
    field, _ = yield admin.get_fields(Thermostat.name, 1, 0)
    assert field == {}  # still serving (it has recorded nothing)


@pytest_twisted.inlineCallbacks
def test_a_command_with_a_details_parameter_learns_its_caller_which_the_caller_cannot_set(thermostat, admin):
    assert (yield admin.call(procedure("command"), "whoami")) == ["admin", "admin"]
    assert (yield admin.call(procedure("command"), "whoami", details="forged")) == ["admin", "admin"]
    api = yield admin.call(procedure("get_api"))
    assert [c["parameters"] for c in api["commands"] if c["name"] == "whoami"] == [[]]


@pytest_twisted.inlineCallbacks
def test_get_api_lists_description_fields_and_commands(thermostat):
    consumer = yield thermostat.connect()
    try:
        api = yield consumer.call(procedure("get_api"))
    finally:
        yield consumer.close()
    assert api["name"] == Thermostat.name and api["description"] == "A thermostat on the bench"
    assert [c["name"] for c in api["commands"]] == ["explode", "measure", "rename", "set_point", "whoami"]
    set_point = api["commands"][-2]
    assert set_point["description"] == "Set the target temperature."
    assert set_point["parameters"] == [
        {"name": "celsius", "type": "float", "required": True, "default": None,
         "description": "Target, degrees Celsius."},
        {"name": "ramp", "type": "float", "required": False, "default": 0.0, "description": "Seconds to get there."},
    ]


def test_describe_command_reads_signature_and_docstring_without_a_router():
    def plain(self, a, b=None, *rest, **more):
        """One line.

        Parameters
        ----------
        a : int
            First,
            on two lines.
        """

    info = describe_command("plain", plain.__get__(object()))
    assert info["description"] == "One line."
    assert [(p["name"], p["required"], p["description"]) for p in info["parameters"]] == [
        ("a", True, "First, on two lines."), ("b", False, "")]


class Speed(enum.Enum):
    SLOW = "slow"
    FAST = "fast"


def test_arguments_are_checked_against_int_float_bool_str_optional_literal_and_enum_annotations():
    def tune(self, n: int, gain: float, on: bool, label: str | None, mode: Literal["a", "b"] = "a",
             speed: Speed = Speed.SLOW, key: str = None, values: list[int] = (), anything=None):
        return n

    def checked(*args, **kwargs):
        bound = inspect.signature(tune).bind(None, *args, **kwargs)
        argtypes.check(tune, bound)
        return bound.arguments

    assert checked(1, 2, True, None, "b", "fast", values=[1, 2], anything=object())["speed"] is Speed.FAST
    assert checked(1, 2.5, False, "x", speed="SLOW", key=None)["speed"] is Speed.SLOW
    for args, kwargs, why in [(("1", 2, True, None), {}, "n: must be int, got '1'"),
                              ((True, 2, True, None), {}, "n: must be int, got True"),
                              ((1, 2.5, True, None), {"n": 1}, None),
                              ((1, False, True, None), {}, "gain: must be float, got False"),
                              ((1, 2, 1, None), {}, "on: must be bool, got 1"),
                              ((1, 2, True, 5), {}, "label: must be str | None, got 5"),
                              ((1, 2, True, None, "c"), {}, "mode: must be 'a' | 'b', got 'c'"),
                              ((1, 2, True, None), {"speed": "medium"}, "speed: must be 'slow' | 'fast'"),
                              ((1, 2, True, None), {"values": [1, "2"]}, "values: must be list[int]")]:
        try:
            checked(*args, **kwargs)
        except TypeError:
            assert why is None
            continue
        except InvalidArgument as exc:
            assert exc.message.startswith(why), exc.message
            continue
        raise AssertionError(f"accepted {args} {kwargs}")
