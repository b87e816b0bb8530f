"""The history benchmark's data node: serves a store file built by `bench.bench_tiers.build`
(``python -m bench.history_node --data-dir DIR --name NAME``).

A real `DataNodeServer` declaring what the built file holds (timeline
``tl``, 1 Hz, number fields ``f0`` ... ``f<FIELDS-1>``) and recording
nothing: its inherited ``get_data`` answers from the file
(``<data dir>/<name>.sqlite``, opened by `sisock.node.run_node` with the
store options of every node), through the tiers for a ``min_stride``.
"""

from sisock.node import DataNodeServer, run_node

#: The timeline of the built file (`bench.bench_tiers.build`).
TIMELINE = "tl"
#: Number fields of the built file.
FIELDS = 12


class HistoryNode(DataNodeServer):
    """A node whose history is a built store file; it records nothing."""

    name = "history"
    description = "sisock history benchmark node (a built store file)"

    def __init__(self, config=None):
        super().__init__(config)
        self.declare(TIMELINE, {f"f{i}": {"units": "V"} for i in range(FIELDS)}, interval=1.0)


if __name__ == "__main__":
    run_node(HistoryNode)
