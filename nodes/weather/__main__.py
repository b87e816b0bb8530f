"""``python -m nodes.weather``: run the APEX weather archive node."""

from nodes.weather.node import WeatherNode, add_arguments
from sisock.node import run_node

run_node(WeatherNode, add_arguments=add_arguments)
