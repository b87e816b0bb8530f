"""``python -m nodes.sensors``: run the host metrics node."""

from nodes.sensors.node import SensorsNode, add_arguments
from sisock.node import run_node

run_node(SensorsNode, add_arguments=add_arguments)
