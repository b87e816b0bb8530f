"""Configuration shared by every sisock process: environment, secrets, command line.

Every value has an embedded default, can be set in the environment, and
(for processes) on the command line; the command line wins.

=======================  ================================  ===========================
variable                 default                           meaning
=======================  ================================  ===========================
``SISOCK_URL``           ``ws://127.0.0.1:8080/ws``        router URL (see `Connection`)
``SISOCK_REALM``         ``sisock``                        WAMP realm
``SISOCK_HOME``          ``./.sisock``                     state: secrets, data, logs
``SISOCK_SECRETS_FILE``  ``$SISOCK_HOME/secrets.json``     generated secrets (mode 0600)
``SISOCK_DATA_DIR``      ``$SISOCK_HOME/data``             node stores
``SISOCK_USERS_FILE``    ``$SISOCK_HOME/users.json``       named users (the router's; mode 0600)
``SISOCK_USER``          (none: ``admin``)                 named user the CLI joins as
``SISOCK_SECRET``        (none)                            that user's secret
``SISOCK_HUB_SECRET``    (from the secrets file)           WAMP-CRA secret of the hub
``SISOCK_NODE_SECRET``   (from the secrets file)           WAMP-CRA secret of nodes
``SISOCK_ADMIN_SECRET``  (from the secrets file)           WAMP-CRA secret of admins
``SISOCK_LOG_LEVEL``     ``info``                          log level
=======================  ================================  ===========================
"""

import argparse
import json
import math
import os
import secrets as _secrets
from dataclasses import dataclass

DEFAULT_URL = "ws://127.0.0.1:8080/ws"
DEFAULT_REALM = "sisock"
SECRET_ROLES = ("hub", "node", "admin")
LOG_LEVELS = ("critical", "error", "warn", "info", "debug", "trace")


def env(name, default=None):
    """Read ``SISOCK_<name>`` from the environment, or ``default``."""
    return os.environ.get(f"SISOCK_{name}", default)


def home_dir():
    """Absolute path of ``SISOCK_HOME`` (default ``./.sisock``)."""
    return os.path.abspath(env("HOME", ".sisock"))


def secrets_file():
    """Absolute path of the secrets file (``SISOCK_SECRETS_FILE``)."""
    return os.path.abspath(env("SECRETS_FILE", os.path.join(home_dir(), "secrets.json")))


def users_file():
    """Absolute path of the users file (``SISOCK_USERS_FILE``; `sisock.router.users`)."""
    return os.path.abspath(env("USERS_FILE", os.path.join(home_dir(), "users.json")))


def data_dir():
    """Absolute path of the data directory (``SISOCK_DATA_DIR``)."""
    return os.path.abspath(env("DATA_DIR", os.path.join(home_dir(), "data")))


class SecretsError(RuntimeError):
    """No secret is configured for a role; the message says how to set one."""


def ensure_secrets(path=None):
    """Create the secrets file with fresh random secrets if it does not exist.

    Parameters
    ----------
    path : str, optional
        Where to write; `secrets_file` by default.

    Returns
    -------
    bool
        True if the file was created now (the caller should say so), False
        if it existed already. The file is JSON ``{role: secret}`` for the
        roles ``hub``, ``node`` and ``admin``, written with mode 0600.
    """
    path = path or secrets_file()
    if os.path.exists(path):
        return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    values = {role: _secrets.token_urlsafe(32) for role in SECRET_ROLES}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fp:
        json.dump(values, fp, indent=2)
    return True


def read_secrets(path=None):
    """The secrets file as a dict (empty if it does not exist).

    Raises
    ------
    SecretsError
        If the file exists but cannot be read as JSON.
    """
    path = path or secrets_file()
    try:
        with open(path) as fp:
            return json.load(fp)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SecretsError(f"cannot read secrets file {path}: {exc}") from exc


def load_secret(role, path=None, authid=None):
    """The WAMP-CRA secret of ``role`` (for a node, of node ``authid``).

    A node whose authid has its own secret in the file's ``"nodes"`` map
    uses it, and only it (see `add_node_secret`); otherwise
    ``SISOCK_<ROLE>_SECRET`` wins over the file's shared secret of the role.

    Parameters
    ----------
    role : str
        ``"hub"``, ``"node"`` or ``"admin"``.
    path : str, optional
        Secrets file; `secrets_file` by default.
    authid : str, optional
        The node's authid (its name), for a per-node secret.

    Returns
    -------
    str

    Raises
    ------
    SecretsError
        If neither the variable nor the file gives one.
    """
    path = path or secrets_file()
    secrets = read_secrets(path)
    own = secrets.get("nodes", {}).get(authid) if role == "node" and authid else None
    value = own or os.environ.get(f"SISOCK_{role.upper()}_SECRET") or secrets.get(role)
    if not value:
        raise SecretsError(
            f"no secret for role '{role}': set SISOCK_{role.upper()}_SECRET or create {path} "
            "with 'sisock secrets'"
        )
    return value


def credentials(path=None):
    """``(authid, secret)`` a person's tool joins with: a named user, else the shared ``admin``.

    ``SISOCK_USER`` and ``SISOCK_SECRET`` name a user (`sisock user add`);
    without ``SISOCK_USER``, authid ``admin`` with the admin secret
    (`load_secret`).

    Parameters
    ----------
    path : str, optional
        Secrets file for the admin secret; `secrets_file` by default.

    Returns
    -------
    tuple of str

    Raises
    ------
    SecretsError
        If ``SISOCK_USER`` is set without ``SISOCK_SECRET``, or neither it
        nor an admin secret is at hand.
    """
    user = env("USER")
    if not user:
        return "admin", load_secret("admin", path)
    secret = env("SECRET")
    if not secret:
        raise SecretsError(f"SISOCK_USER is {user!r} but SISOCK_SECRET is not set: set it to that user's secret")
    return user, secret


def add_node_secret(name, path=None):
    """Give node ``name`` a secret of its own in the secrets file; the shared node secret stops working for it.

    Parameters
    ----------
    name : str
        Node name (its authid).
    path : str, optional
        Secrets file (created if missing); `secrets_file` by default.

    Returns
    -------
    str
        The node's new secret (also stored, mode 0600, written atomically).
    """
    path = path or secrets_file()
    ensure_secrets(path)
    secrets = read_secrets(path)
    value = secrets.setdefault("nodes", {})[name] = _secrets.token_urlsafe(32)
    _write_secrets(path, secrets)
    return value


def ensure_http_publisher_secret(path=None):
    """Add an ``http_publisher`` entry ``{key, secret}`` to the secrets file if it has none; return it.

    The router's HTTP publisher (``/publish``, `sisock.router.directory.router_config`)
    accepts only requests signed with it.

    Parameters
    ----------
    path : str, optional
        Secrets file (created if missing); `secrets_file` by default.

    Returns
    -------
    dict
        ``{"key": "http_publisher", "secret": str}``.
    """
    path = path or secrets_file()
    ensure_secrets(path)
    secrets = read_secrets(path)
    if "http_publisher" not in secrets:
        secrets["http_publisher"] = {"key": "http_publisher", "secret": _secrets.token_urlsafe(32)}
        _write_secrets(path, secrets)
    return secrets["http_publisher"]


def _write_secrets(path, secrets):
    """Replace the secrets file with ``secrets`` atomically, mode 0600."""
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fp:
        json.dump(secrets, fp, indent=2)
    os.replace(tmp, path)


@dataclass(frozen=True)
class Connection:
    """Where and as whom a process connects to the router.

    Attributes
    ----------
    url : str
        Router URL: WebSocket ``ws://host:port/ws`` or ``wss://...``;
        RawSocket ``rs://host:port``, ``rss://host:port`` (TLS), or on a
        Unix socket ``unix:///path/to.sock`` (also Autobahn's
        ``rs://unix:/path/to.sock``); see `sisock.connection.parse_router_url`.
    realm : str
        WAMP realm.
    authid : str or None
        WAMP-CRA authid; None joins anonymously (the ``consumer`` role).
    secret : str or None
        WAMP-CRA secret for ``authid``.
    """

    url: str = DEFAULT_URL
    realm: str = DEFAULT_REALM
    authid: str | None = None
    secret: str | None = None


def positive_number(text):
    """Command-line type of a number > 0 (seconds, metres, ...); ``inf`` is accepted.

    Raises
    ------
    argparse.ArgumentTypeError
        Naming the text, for argparse to report as a usage error.
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def add_connection_arguments(parser, *, default_authid=None):
    """Add the options every sisock process shares to an argparse parser.

    Options: ``--url``, ``--realm``, ``--authid``, ``--secret-file``,
    ``--data-dir``, ``--log-level``; defaults come from the environment.
    """
    group = parser.add_argument_group("connection")
    group.add_argument("--url", default=env("URL", DEFAULT_URL),
                       help="router URL: ws://, wss://, rs://host:port, rss://host:port or unix:///path "
                            "(env SISOCK_URL; default %(default)s)")
    group.add_argument("--realm", default=env("REALM", DEFAULT_REALM),
                       help="WAMP realm (env SISOCK_REALM; default %(default)s)")
    group.add_argument("--authid", default=default_authid,
                       help="WAMP authid to join as (default %(default)s)")
    group.add_argument("--secret-file", default=None,
                       help="secrets file (env SISOCK_SECRETS_FILE; default $SISOCK_HOME/secrets.json)")
    group.add_argument("--data-dir", default=None,
                       help="directory for this process's data (env SISOCK_DATA_DIR; default $SISOCK_HOME/data)")
    group.add_argument("--log-level", default=env("LOG_LEVEL", "info"), choices=LOG_LEVELS,
                       help="log level (env SISOCK_LOG_LEVEL; default %(default)s)")
    return parser


def connection_from_args(args, role):
    """Build a :class:`Connection` from parsed arguments.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed with `add_connection_arguments`.
    role : str or None
        Secret role to authenticate as (``"hub"``, ``"node"``, ``"admin"``),
        or None to join anonymously as a consumer.

    Raises
    ------
    SecretsError
        If a role is given and it has no secret.
    """
    if role is None:
        return Connection(args.url, args.realm)
    return Connection(args.url, args.realm, args.authid, load_secret(role, args.secret_file, args.authid))
