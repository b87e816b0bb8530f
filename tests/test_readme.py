"""The README's examples work as printed."""

import re
import sys

import pytest_twisted

from sisock.router.directory import PROJECT_DIR
from tests.conftest import Proc, until

README = (PROJECT_DIR / "README.md").read_text()


def python_block(marker):
    """The ```python block of the README that contains ``marker``."""
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    found = [b for b in blocks if marker in b]
    assert len(found) == 1, f"one python block with {marker!r} expected in README.md"
    return found[0]


@pytest_twisted.inlineCallbacks
def test_the_readme_node_example_runs_records_and_serves(stack, consumer, tmp_path):
    script = tmp_path / "mynode.py"
    script.write_text(python_block("# mynode.py"))
    node = Proc("readme_node", [sys.executable, str(script), "--data-dir", str(tmp_path / "data")],
                stack.env, str(tmp_path)).start()
    try:
        yield node.ready()
        assert "bench_thermometer" in [n["name"] for n in (yield consumer.get_data_node())]

        result = yield until(lambda: consumer.get_data("bench_thermometer", ["temperature"], -60, 0),
                             lambda r: len(r["data"]["temperature"]) >= 2, "two samples recorded", timeout=15)
        values = result["data"]["temperature"]
        assert ((values >= 20) & (values < 21)).all()
        field, _ = yield consumer.get_fields("bench_thermometer", -60, 0)
        assert field["temperature"]["units"] == "C"
    finally:
        node.stop()
