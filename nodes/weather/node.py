"""The weather data node: the APEX weather-station archive, read once at start-up."""

from pathlib import Path

from nodes.weather.archive import ApexArchive
from sisock.node import DataNodeServer

#: The archive shipped with the project (see ``data/README.md``).
DEFAULT_ARCHIVE = Path(__file__).resolve().parent / "data"


class WeatherNode(DataNodeServer):
    """Serve the APEX weather archive (Chajnantor, July 2017): one timeline per cadence."""

    name = "weather"
    description = "APEX weather station archive, Llano de Chajnantor, 2017-07-14 for two weeks"

    def __init__(self, config=None):
        super().__init__(config)
        args = (self.config.extra or {}).get("args")
        self.archive = ApexArchive.load(getattr(args, "archive", None) or DEFAULT_ARCHIVE)

    def _get_fields_blocking(self, start, end):
        return self.archive.get_fields(start, end)

    def _get_data_blocking(self, field, start, end, min_stride=None):
        t, data = self.archive.get_data(field, start, end)
        return {"data": data,
                "timeline": {tl: {"t": t_tl, "finalized_until": self.archive.finalized_until(tl),
                                  "field": [f for f in data if self.archive.fields.get(f, {}).get("timeline") == tl]}
                             for tl, t_tl in t.items()}}


def add_arguments(parser):
    """The weather node's own option: ``--archive DIR``."""
    parser.add_argument("--archive", default=str(DEFAULT_ARCHIVE),
                        help="directory of apex_*.dat files (default: the shipped archive)")
