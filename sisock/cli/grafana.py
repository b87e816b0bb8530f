"""``sisock grafana``: provisioning files that give an existing Grafana the sisock data source and dashboards.

Writes, under ``--out`` (Grafana's configuration folder, ``/etc/grafana``
for a packaged Grafana):

* ``provisioning/datasources/sisock.yaml``: a ``simpod-json-datasource``
  data source (uid ``sisock``) at the bridge's URL, sending
  ``Authorization: Bearer ${SISOCK_BRIDGE_TOKEN}`` (Grafana fills the
  variable in from its own environment, so no secret is written);
* ``provisioning/dashboards/sisock.yaml``: a file provider reading the
  dashboards from ``dashboards/sisock/``;
* ``dashboards/sisock/*.json``: the dashboards shipped with the package
  (``sisock/grafana/``). Every data source reference in them is
  ``${DS_SISOCK}``: Grafana's import fills it in from the ``__inputs``
  entry ``DS_SISOCK`` (the data source the user picks, any uid), and a
  provisioned dashboard resolves it through its hidden data source
  variable ``DS_SISOCK``, whose value is the uid ``sisock`` provisioned here.

``docker/grafana/provisioning/`` holds the same files written for the
Compose stack (``--bridge-url http://bridge:8081``).
"""

import shutil
from pathlib import Path

import yaml

#: The dashboards shipped with the package (package data).
DASHBOARDS = Path(__file__).resolve().parents[1] / "grafana"
#: Grafana plugin id of the JSON data source the bridge serves (simpod JSON API contract).
PLUGIN = "simpod-json-datasource"
#: uid of the provisioned data source; the dashboards' variable DS_SISOCK selects it.
DATASOURCE_UID = "sisock"
#: Where the written files go under ``--out``.
DATASOURCE_FILE = Path("provisioning", "datasources", "sisock.yaml")
PROVIDER_FILE = Path("provisioning", "dashboards", "sisock.yaml")
DASHBOARD_DIR = Path("dashboards", "sisock")
HEADER = "# Written by `sisock grafana`: Grafana provisioning of the sisock data source and dashboards.\n"


def datasource(bridge_url, token_variable="SISOCK_BRIDGE_TOKEN"):
    """The data source provisioning document.

    Parameters
    ----------
    bridge_url : str
        URL of the Grafana bridge as Grafana's server reaches it (``access: proxy``).
    token_variable : str
        Environment variable of Grafana's process holding the bridge's
        bearer token; Grafana expands ``${NAME}`` in provisioning files.

    Returns
    -------
    dict
        Grafana data source provisioning (``apiVersion: 1``, ``datasources``).
    """
    return {"apiVersion": 1, "datasources": [{
        "name": "sisock", "uid": DATASOURCE_UID, "type": PLUGIN, "access": "proxy", "url": bridge_url,
        "isDefault": True, "editable": False,
        "jsonData": {"httpHeaderName1": "Authorization"},
        "secureJsonData": {"httpHeaderValue1": f"Bearer ${{{token_variable}}}"},
    }]}


def provider(path):
    """The dashboard provider provisioning document: a file provider reading ``path`` into folder "sisock".

    Parameters
    ----------
    path : str
        The dashboards' folder as Grafana's server sees it.

    Returns
    -------
    dict
        Grafana dashboard provisioning (``apiVersion: 1``, ``providers``).
    """
    return {"apiVersion": 1, "providers": [{
        "name": "sisock", "orgId": 1, "folder": "sisock", "type": "file", "disableDeletion": False,
        "allowUiUpdates": False, "updateIntervalSeconds": 30, "options": {"path": str(path)},
    }]}


def write(out, bridge_url, dashboards_path=None, token_variable="SISOCK_BRIDGE_TOKEN"):
    """Write the provisioning files and the dashboards under ``out``.

    Parameters
    ----------
    out : path-like
        Grafana's configuration folder (created if missing).
    bridge_url : str
        See `datasource`.
    dashboards_path : str, optional
        Where Grafana sees ``out/dashboards/sisock`` (when it runs elsewhere,
        e.g. in a container); that folder made absolute by default.
    token_variable : str
        See `datasource`.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out = Path(out).resolve()
    folder = out / DASHBOARD_DIR
    documents = {DATASOURCE_FILE: datasource(bridge_url, token_variable),
                 PROVIDER_FILE: provider(dashboards_path or folder)}
    written = []
    for name, document in documents.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(HEADER + yaml.safe_dump(document, sort_keys=False))
        written.append(path)
    folder.mkdir(parents=True, exist_ok=True)
    for source in sorted(DASHBOARDS.glob("*.json")):
        written.append(Path(shutil.copyfile(source, folder / source.name)))
    return written


def add_arguments(parser):
    """Options of ``sisock grafana``."""
    parser.description = (
        "Write Grafana provisioning files for the sisock data source (the Grafana bridge, through the "
        f"{PLUGIN} plugin) and the sisock dashboards into Grafana's configuration folder. Install the plugin "
        f"first (grafana cli plugins install {PLUGIN}), then restart Grafana.")
    parser.epilog = """\
examples:
  sudo sisock grafana --out /etc/grafana     a packaged Grafana on this host, bridge on 127.0.0.1:8081
  sisock grafana --out ./grafana --bridge-url http://daq.lab.example:8081
then give Grafana's process the bridge's token (if the bridge has one), e.g. in
/etc/default/grafana-server:  SISOCK_BRIDGE_TOKEN=...
"""
    parser.add_argument("--out", default="/etc/grafana",
                        help="Grafana's configuration folder (default %(default)s)")
    parser.add_argument("--bridge-url", default="http://127.0.0.1:8081",
                        help="URL of the Grafana bridge as Grafana's server reaches it (default %(default)s)")
    parser.add_argument("--dashboards-path", default=None,
                        help="where Grafana sees OUT/dashboards/sisock, if it runs elsewhere (a container)")
    parser.add_argument("--token-variable", default="SISOCK_BRIDGE_TOKEN",
                        help="Grafana's environment variable holding the bridge's bearer token (default %(default)s)")


def run(args):
    """Run ``sisock grafana``."""
    for path in write(args.out, args.bridge_url, args.dashboards_path, args.token_variable):
        print(f"sisock: wrote {path}")
    return 0
