"""How much one request may ask of the bridge: targets, points and body bytes.

A ``/query`` past a limit is refused at once with 413 JSON naming the
limit and how to raise it (`grafana_bridge.errors.TooLarge`), before any
node is asked, so that one request cannot hold the bridge's memory or CPU.
The limits are options of ``python -m grafana_bridge`` (`add_arguments`).
Pure functions: no Flask and no WAMP here.
"""

import argparse
import functools
from dataclasses import dataclass

from grafana_bridge.errors import TooLarge
from sisock import config

#: Defaults: visible targets per ``/query``, points per answer, bytes per request body.
MAX_TARGETS, MAX_POINTS, MAX_BODY_BYTES = 200, 1_000_000, 1_048_576


@dataclass(frozen=True)
class Limits:
    """The bridge's limits per request.

    Attributes
    ----------
    max_targets : int
        Visible targets of one ``/query``.
    max_points : int
        Points one ``/query`` may ask for: ``maxDataPoints`` times its targets.
    max_body_bytes : int
        Bytes of a request body.
    """

    max_targets: int = MAX_TARGETS
    max_points: int = MAX_POINTS
    max_body_bytes: int = MAX_BODY_BYTES


#: ``(attribute, command-line option, environment variable, what)`` of each limit.
OPTIONS = (("max_targets", "--max-targets", "BRIDGE_MAX_TARGETS", "visible targets per /query"),
           ("max_points", "--max-points", "BRIDGE_MAX_POINTS", "points per /query (maxDataPoints times targets)"),
           ("max_body_bytes", "--max-body-bytes", "BRIDGE_MAX_BODY_BYTES", "bytes per request body"))


def how_to_raise(attribute):
    """``"--max-targets / SISOCK_BRIDGE_MAX_TARGETS"``: where the limit ``attribute`` is set, for messages."""
    [(option, variable)] = [(o, v) for a, o, v, _ in OPTIONS if a == attribute]
    return f"{option} / SISOCK_{variable}"


def _positive_int(text, variable):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1 (the option or SISOCK_{variable}), not {text!r}")
    return value


def add_arguments(parser):
    """Add ``--max-targets``, ``--max-points`` and ``--max-body-bytes`` to an argparse parser.

    Each defaults to its ``SISOCK_BRIDGE_MAX_*`` environment variable, else
    to `MAX_TARGETS`, `MAX_POINTS`, `MAX_BODY_BYTES`.
    """
    defaults = Limits()
    for attribute, option, variable, what in OPTIONS:
        parser.add_argument(option, dest=attribute, type=functools.partial(_positive_int, variable=variable),
                            default=config.env(variable, str(getattr(defaults, attribute))),
                            help=f"most {what} (env SISOCK_{variable}; default %(default)s); "
                                 f"more is refused with 413 JSON")


def from_args(args):
    """The `Limits` of parsed options (see `add_arguments`)."""
    return Limits(*(getattr(args, attribute) for attribute, *_ in OPTIONS))


def body_too_large(limit):
    """The message of a request body over ``limit`` bytes, naming where the limit is set."""
    return f"request body: over {limit} bytes ({how_to_raise('max_body_bytes')})"


def check_query(req, limits):
    """Refuse a ``/query`` that asks for more than ``limits`` allow, before any node is asked.

    Parameters
    ----------
    req : grafana_bridge.query.QueryRequest
    limits : Limits

    Raises
    ------
    grafana_bridge.errors.TooLarge
        More than ``max_targets`` visible targets, or ``maxDataPoints``
        times the targets over ``max_points``; the message names the limit.
    """
    count = len(req.targets)
    if count > limits.max_targets:
        raise TooLarge(f"targets: {count} visible targets, at most {limits.max_targets} per request "
                       f"({how_to_raise('max_targets')}); split the panel's queries")
    asked = count * req.max_data_points
    if asked > limits.max_points:
        raise TooLarge(f"maxDataPoints: {req.max_data_points} points for each of {count} target(s) is {asked}, "
                       f"at most {limits.max_points} per answer ({how_to_raise('max_points')})")

