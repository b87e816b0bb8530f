"""Command-line options of the pixel node (`add_arguments`), read by `nodes.pixels.node.PixelsNode`."""

import argparse
import importlib.util
import json

from nodes.pixels.display import ALLOCATIONS
from nodes.pixels.outputs import NEOPIXEL_PACKAGE, NeoPixelOutput, SimulatedOutput


def _count(text, low=1, high=65536):
    value = int(text)
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}, got {text}")
    return value


def _fps(text):
    value = float(text)
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError(f"must be a number of frames per second, 0 to 1000, got {text}")
    return value


def _key_map(text):
    """``{key: index}`` from JSON text, or from a JSON file if the text starts with ``@``."""
    try:
        if text.startswith("@"):
            with open(text[1:]) as fp:
                text = fp.read()
        value = json.loads(text)
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"must be JSON {{key: index}} or @file.json: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object {key: index}")
    return value


class _Resolve(argparse.Action):
    """Turns ``--strip N`` into ``width=N, height=1``."""

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.width, namespace.height = values, 1


def add_arguments(parser):
    """The pixel node's options: display size, frame rate, key allocation, output."""
    group = parser.add_argument_group("display")
    group.add_argument("--width", type=_count, default=8, help="pixels per row (default %(default)s)")
    group.add_argument("--height", type=_count, default=8, help="rows (default %(default)s)")
    group.add_argument("--strip", type=_count, action=_Resolve, metavar="N", help="a strip of N pixels")
    group.add_argument("--description", help="what the display is for, as the hub lists it "
                       "(default: the pixel node's own description)")
    group.add_argument("--fps", type=_fps, default=30.0, help="most frames shown per second (default %(default)s)")
    group.add_argument("--allocation", choices=ALLOCATIONS, default="linear",
                       help="how keys get pixels: lowest free, random free, or --key-map (default %(default)s)")
    group.add_argument("--key-map", type=_key_map, metavar="JSON",
                       help='fixed positions {"key": index, ...} as JSON, or @file.json')
    group.add_argument("--seed", type=int, help="seed of the random allocation")
    group.add_argument("--output", choices=("simulated", "neopixel"), default="simulated", action=_Output,
                       help="simulated display (default; the web client draws it) or a WS281x strip "
                            f"(needs {NEOPIXEL_PACKAGE})")
    group.add_argument("--pin", default="D18", help="board pin of the WS281x strip (default %(default)s)")
    return parser


class _Output(argparse.Action):
    """``--output``: ``neopixel`` without its libraries ends the node at once with one line saying what to install."""

    def __call__(self, parser, namespace, values, option_string=None):
        missing = [m for m in ("neopixel", "board") if values == "neopixel" and importlib.util.find_spec(m) is None]
        if missing:
            parser.exit(2, f"{parser.prog}: --output neopixel needs the module {missing[0]!r}, which is not "
                           f"installed: pip install {NEOPIXEL_PACKAGE}\n")
        setattr(namespace, self.dest, values)


def make_output(args):
    """The output ``args`` ask for: a `SimulatedOutput`, or a `NeoPixelOutput` (``--output neopixel``)."""
    if getattr(args, "output", "simulated") == "neopixel":
        return NeoPixelOutput(args.pin, args.width * args.height)
    return SimulatedOutput()
