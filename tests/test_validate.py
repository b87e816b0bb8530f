"""`sisock.wire.validate`: arguments that do not fit a procedure and those that do, numbers and times
(and `sisock.wire.timeutil.sisock_to_unix_time`, which the time checks use)."""

import numpy as np
import pytest

from sisock.wire import validate
from sisock.wire.errors import InvalidArgument
from sisock.wire.timeutil import sisock_to_unix_time


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


@pytest.mark.parametrize("value, number", [
    (1, True), (-2.5, True), (np.float32(1.5), True), (np.int64(3), True),
    (True, False), (float("nan"), False), (float("inf"), False), (10**400, False), (-(10**400), False),
    ("1", False), (None, False), (1j, False)], ids=lambda v: repr(v)[:12])
def test_is_number_takes_finite_reals_only_and_no_int_beyond_a_float(value, number):
    assert validate.is_number(value) is number


def test_a_time_as_an_int_too_large_for_a_float_is_an_invalid_argument_naming_it():
    """JSON carries integers of any size: one beyond the float range is the caller's mistake."""
    with pytest.raises(InvalidArgument, match="end must be a finite number"):
        validate.time_range(0, 10**400)
    with pytest.raises(InvalidArgument, match="min_stride"):
        validate.min_stride_arg(10**400)


@pytest.mark.parametrize("value", [float("nan"), float("-inf"), 10**400], ids=["nan", "-inf", "int 1e400"])
def test_sisock_to_unix_time_refuses_what_is_not_a_finite_float_with_a_value_error(value):
    with pytest.raises(ValueError, match="finite"):
        sisock_to_unix_time(value)


def test_sisock_to_unix_time_keeps_absolute_times_and_adds_relative_ones_to_now():
    assert sisock_to_unix_time(1_500_000_000) == 1_500_000_000.0
    assert sisock_to_unix_time(-60, now=1_500_000_000.0) == 1_499_999_940.0
