"""``python -m nodes.pixels [--width 8 --height 8 | --strip N] [--fps 30] [--allocation linear]``: run a display."""

from nodes.pixels.node import PixelsNode
from nodes.pixels.options import add_arguments
from sisock.node import run_node

run_node(PixelsNode, add_arguments=add_arguments)
