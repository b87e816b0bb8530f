"""Start the parts of a sisock stack as child processes.

`router_config` and `prepare_cbdir` turn the project's
``.crossbar/config.json`` into a runnable router directory with another
port (the test fixture and `sisock up --port` use them).
"""

import json
import os
from pathlib import Path

#: The project folder: the one holding ``sisock/``, ``.crossbar/``, ``web/``.
PROJECT_DIR = Path(__file__).resolve().parent.parent
CONFIG_FILE = PROJECT_DIR / ".crossbar" / "config.json"
WEB_DIR = PROJECT_DIR / "web"


def router_config(port=8080, interface="127.0.0.1", web_dir=WEB_DIR):
    """The router configuration with its listening port and paths made absolute.

    Parameters
    ----------
    port : int
        TCP port of the web transport (WebSocket at ``/ws``, files at ``/``).
    interface : str
        Address to listen on.
    web_dir : path-like
        Directory of the web client's static files.

    Returns
    -------
    dict
        Crossbar configuration (``.crossbar/config.json`` with changes).
    """
    cfg = json.loads(CONFIG_FILE.read_text())
    worker = cfg["workers"][0]
    worker.setdefault("options", {})["pythonpath"] = [str(PROJECT_DIR)]
    transport = worker["transports"][0]
    transport["endpoint"].update(port=int(port), interface=interface)
    transport["paths"]["/"]["directory"] = str(Path(web_dir).resolve())
    return cfg


def prepare_cbdir(cbdir, port=8080, interface="127.0.0.1"):
    """Write a router directory for ``crossbar start --cbdir`` and return its path."""
    os.makedirs(cbdir, exist_ok=True)
    path = Path(cbdir) / "config.json"
    path.write_text(json.dumps(router_config(port, interface), indent=2))
    return str(cbdir)
