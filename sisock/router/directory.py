"""The router directory: the router config template made runnable (`prepare_cbdir`).

`router_config` and `prepare_cbdir` turn the router config template
(``sisock/router/config.json``, package data like the web client in
``sisock/web/``) into a runnable router directory for ``crossbar start
--cbdir``, with another port, absolute paths, the RawSocket transports, the
HTTP publisher's key and optional proxy workers. `sisock up`, the test
fixtures, the benchmarks and the Docker image use them, so the router runs
from an installed package as from a checkout.
"""

import json
import os
import sys
from pathlib import Path

from sisock import config
from sisock.router.links import accept_links, link_to, node_public_key
from sisock.router.proxies import add_proxies
from sisock.router.python import SCRIPT, SCRIPT_TEXT

#: The folder holding the ``sisock`` package (and ``nodes``, ``grafana_bridge``):
#: the project folder of a checkout, ``site-packages`` once installed. The
#: router worker imports `sisock.router.auth` from it.
PROJECT_DIR = Path(__file__).resolve().parents[2]
#: The router config template (a checkout's ``.crossbar/config.json`` links to it).
CONFIG_FILE = PROJECT_DIR / "sisock" / "router" / "config.json"
#: The web client's static files, served by the router at ``/``.
WEB_DIR = PROJECT_DIR / "sisock" / "web"


#: The router's Unix socket (RawSocket), in its router directory.
SOCKET_NAME = "sisock.sock"
#: Longest Unix socket path the kernel takes (``sun_path`` holds 108 bytes with the final NUL).
SOCKET_PATH_MAX = 107


def socket_path(cbdir):
    """Absolute path of the router's Unix socket in router directory ``cbdir``, or None if too long for one."""
    path = os.path.join(os.path.abspath(cbdir), SOCKET_NAME)
    return path if len(os.fsencode(path)) <= SOCKET_PATH_MAX else None


def router_config(port=8080, interface="127.0.0.1", web_dir=WEB_DIR, tls=None, rawsocket_port=None,
                  unix_socket=True, secrets=None):
    """The router configuration with its listening port and paths made absolute.

    Parameters
    ----------
    port : int
        TCP port of the web transport (WebSocket at ``/ws``, files at ``/``).
    interface : str
        Address to listen on.
    web_dir : path-like
        Directory of the web client's static files.
    tls : tuple of str, optional
        ``(key_path, cert_path)`` (PEM, see `sisock.tls.make_certificate`):
        the TCP transports then speak only TLS (``wss://``, ``https://``, ``rss://``).
    rawsocket_port : int, optional
        TCP port of the RawSocket transport (``rs://``); None: no such transport.
    unix_socket : bool
        Keep the RawSocket transport on the Unix socket `SOCKET_NAME` in the
        router directory (``unix://``).
    secrets : path-like, optional
        Secrets file (`sisock.config.secrets_file` by default) whose
        ``http_publisher`` entry ``{key, secret}`` signs requests to the
        HTTP publisher at ``/publish`` (Crossbar's, behind
        `sisock.router.publisher.Publisher`); without one, there is no ``/publish``.

    Returns
    -------
    dict
        Crossbar configuration (`CONFIG_FILE` with changes).
    """
    cfg = json.loads(CONFIG_FILE.read_text())
    worker = cfg["workers"][0]
    worker.setdefault("options", {})["pythonpath"] = [str(PROJECT_DIR)]
    transport = worker["transports"][0]
    transport["endpoint"].update(port=int(port), interface=interface)
    transport["paths"]["/"]["directory"] = str(Path(web_dir).resolve())
    http = config.read_secrets(secrets).get("http_publisher")
    if http:
        transport["paths"]["publish"]["paths"]["crossbar"]["options"].update(key=http["key"], secret=http["secret"])
    else:
        del transport["paths"]["publish"]
    tls_section = None
    if tls is not None:
        key, cert = (str(Path(p).resolve()) for p in tls)
        tls_section = transport["endpoint"]["tls"] = {"key": key, "certificate": cert}
    kept = {"tcp": rawsocket_port is not None, "unix": unix_socket}
    worker["transports"] = [t for t in worker["transports"] if t["type"] != "rawsocket" or kept[t["endpoint"]["type"]]]
    for t in worker["transports"]:
        if t["type"] == "rawsocket" and t["endpoint"]["type"] == "tcp":
            t["endpoint"].update(port=int(rawsocket_port), interface=interface)
            if tls_section:
                t["endpoint"]["tls"] = tls_section
    return cfg


def prepare_cbdir(cbdir, port=8080, interface="127.0.0.1", tls=None, rawsocket_port=None, proxies=0, secrets=None,
                  link=None, link_keys=None, link_ca=None):
    """Write a router directory for ``crossbar start --cbdir`` and return its path (see `router_config`).

    Its Crossbar workers run through the script `crossbar_script` writes there,
    which can also start the router: ``<cbdir>/sisock-crossbar start --cbdir <cbdir>``.

    The router listens on the Unix socket `socket_path` ``(cbdir)`` too, unless that path is too long.
    With ``proxies`` > 0, that many Crossbar proxy workers serve the web port
    (`sisock.router.proxies.add_proxies`). With ``link`` (the central
    router's ``ws://`` or ``wss://`` URL; ``link_ca``: the certificate to
    trust for ``wss://``), this is a site router linked to it; with
    ``link_keys`` (``{site: public key hex}``), a central router that
    accepts those sites' links (`sisock.router.links`).
    """
    os.makedirs(cbdir, exist_ok=True)
    path = Path(cbdir) / "config.json"
    cfg = router_config(port, interface, tls=tls, rawsocket_port=rawsocket_port,
                        unix_socket=socket_path(cbdir) is not None, secrets=secrets)
    if link:
        node_public_key(cbdir)
        link_to(cfg, link, ca_file=link_ca)
    if link_keys:
        accept_links(cfg, link_keys)
    if proxies:
        add_proxies(cfg, proxies, cbdir)
    script = crossbar_script(cbdir)
    for worker in cfg["workers"]:
        worker.setdefault("options", {})["python"] = script
    path.write_text(json.dumps(cfg, indent=2))
    return str(cbdir)


def crossbar_script(cbdir):
    """Write the executable `sisock.router.python.SCRIPT` into router directory ``cbdir``; its absolute path.

    It is the ``crossbar`` command for this router directory and the Python
    of its workers (see `sisock.router.python`), run by this Python.
    """
    path = Path(cbdir).resolve() / SCRIPT
    path.write_text(SCRIPT_TEXT.format(python=sys.executable))
    path.chmod(0o755)
    return str(path)
