"""`sisock.wire.validate.call` and `rpc`: arguments that do not fit a procedure, and those that do."""

import pytest

from sisock.wire import validate
from sisock.wire.errors import InvalidArgument


class Node:
    def __init__(self):
        self.ran = 0

    def echo(self, text, times=1, details=None):
        self.ran += 1
        return text * times

    def broken(self, text):
        self.ran += 1
        return len(text) + text  # a TypeError of the body, not of the caller


@pytest.mark.parametrize("args, kwargs, why", [
    ((), {}, "missing a required argument: 'text'"),
    (("a", 2, 3, 4), {}, "too many positional arguments"),
    (("a",), {"color": "red"}, "got an unexpected keyword argument 'color'"),
])
def test_arguments_that_do_not_fit_are_invalid_argument_naming_the_signature_and_nothing_runs(args, kwargs, why):
    node = Node()
    with pytest.raises(InvalidArgument) as raised:
        validate.call(node.echo, args, kwargs, "echo")
    assert raised.value.args[0] == f"echo takes (text, times=1): {why}"
    assert node.ran == 0


def test_a_type_error_of_the_procedure_itself_is_not_blamed_on_the_caller():
    node = Node()
    with pytest.raises(TypeError) as raised:
        validate.call(node.broken, ("abc",), {}, "broken")
    assert not isinstance(raised.value, InvalidArgument)
    assert node.ran == 1
    assert validate.call(node.echo, ("ab",), {"times": 2}, "echo") == "abab"


def test_rpc_checks_a_procedure_with_a_signature_and_leaves_one_that_takes_anything():
    node = Node()
    with pytest.raises(InvalidArgument):
        validate.rpc(node.echo)()

    def anything(*args, **kwargs):
        return args, kwargs

    assert validate.rpc(anything) is anything
