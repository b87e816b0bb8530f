"""``python -m nodes.brewing``: run the brewing IO node."""

from nodes.brewing.node import BrewingNode, add_arguments
from sisock.node import run_node

run_node(BrewingNode, add_arguments=add_arguments)
