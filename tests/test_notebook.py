"""examples/quickstart.ipynb runs headless, every cell without an error, against the session stack with a fleet.

A real Jupyter kernel (ipykernel, through nbclient) with the stack's ``SISOCK_URL`` in its environment, as
a user's notebook next to ``make up``; matplotlib draws to its inline backend.
"""

import nbformat
import pytest_twisted
from nbclient import NotebookClient
from twisted.internet import threads

from tests.conftest import ROOT

NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"


def outputs(nb, kind):
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == kind]


@pytest_twisted.inlineCallbacks
def test_the_quickstart_notebook_runs_every_cell_against_the_stack(stack, fleet, tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    runner = NotebookClient(nb, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    # raises nbclient's CellExecutionError, naming the cell and its traceback, on the first cell that fails
    yield threads.deferToThread(runner.execute, env=dict(stack.env, MPLBACKEND="module://matplotlib_inline.backend_inline"))
    assert not outputs(nb, "error")
    images = [o for o in outputs(nb, "display_data") if "image/png" in o.data]
    assert len(images) == 3, "the APEX day, the sensors and the fleet by zone are drawn"
    text = "".join(o.get("text", "") for o in outputs(nb, "stream"))
    assert "no lamp is running" not in text
    tables = "".join(o.data.get("text/plain", "") for o in outputs(nb, "execute_result"))
    assert "weather" in tables and "sensors" in tables and "fleet.lamp0001" in tables
    assert "time_hourly" in tables and "time_minutely" in tables  # the dataset's coordinates
