"""Named accounts of people: the users file the router authenticates them from.

Each user has a name (its WAMP authid), a role (`USER_ROLES`) and a secret
of its own. The file, ``$SISOCK_USERS_FILE`` (default
``$SISOCK_HOME/users.json``, `sisock.config.users_file`), is a JSON object
written atomically with mode 0600::

    {"version": 1,
     "users": {"alice": {"role": "operator", "created": 1796600000.0, "rotated": 1796600000.0,
                         "salt": "...", "iterations": 10000, "keylen": 32, "key": "..."}},
     "removed": {"bob": 1796600500.0}}

It never holds a secret, only WAMP-CRA's salted key of it (``key``,
`autobahn.wamp.auth.derive_key` of the secret with a random ``salt``); the
client derives the same key from its secret and the salt, iterations and
key length the router's challenge carries (`sisock.router.wampcra`). The
key still signs a challenge, so the file stays private to the router's
user. A removed name is remembered under ``"removed"`` (until it is added
again) so that the router can say why it refuses it.

Reading is cheap to repeat: `UserFile.lookup` reads the file again only
when its modification time, size or inode changed, so the router sees a
change (by `sisock.router.usersapi` or by hand) without a restart.
"""

import json
import os
import re
import secrets as _secrets
import threading
import time

from autobahn.wamp import auth

#: The roles a named user may have.
USER_ROLES = ("admin", "operator", "consumer")
#: A user name: a letter, then letters, digits, ``_`` or ``-``; 64 characters at most.
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
#: Authids that are not users: the shared roles' own and the router's.
RESERVED = ("admin", "hub", "node", "router")
#: PBKDF2 parameters of a new salted key (`autobahn.wamp.auth.derive_key`).
ITERATIONS, KEYLEN = 10000, 32


class UserError(ValueError):
    """A user change that cannot be made; ``argument`` names what is wrong, ``missing`` for a name not in the file."""

    def __init__(self, message, argument, missing=False):
        super().__init__(message)
        self.argument, self.missing = argument, missing


def check_name(name, argument="name"):
    """Raise `UserError` naming ``argument`` unless ``name`` can be a user's name (`NAME_RE`, not `RESERVED`)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise UserError(f"{argument} must be a letter then letters, digits, _ or - (64 at most), got {name!r}",
                        argument)
    if name in RESERVED:
        raise UserError(f"{argument} {name!r} is reserved (one of {', '.join(RESERVED)})", argument)


def check_role(role, argument="role"):
    """Raise `UserError` naming ``argument`` unless ``role`` is one of `USER_ROLES`."""
    if role not in USER_ROLES:
        raise UserError(f"{argument} must be one of {', '.join(USER_ROLES)}, got {role!r}", argument)


def public(name, record):
    """What may be shown of a user: ``{name, role, created, rotated}`` (seconds UTC), never its key."""
    return {"name": name, "role": record["role"], "created": record["created"], "rotated": record["rotated"]}


class UserFile:
    """The users file at ``path``: changes written atomically, lookups re-read only after a change.

    Thread-safe: the router looks users up in threads (`sisock.router.auth`)
    and changes them in threads too (`sisock.router.usersapi`, one at a time).

    Parameters
    ----------
    path : str
        The users file (need not exist yet).
    """

    def __init__(self, path):
        self.path = path
        self._lock, self._changing = threading.Lock(), threading.Lock()  # reading; one change at a time
        self._stamp, self._data = None, _empty()

    # -- reading ---------------------------------------------------------------
    def read(self):
        """The file's content, read again if it changed since the last read; an empty one if there is none.

        Raises
        ------
        ValueError
            If the file exists but is not the JSON object described in the module.
        """
        with self._lock:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                self._stamp, self._data = None, _empty()
                return self._data
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self._stamp:
                with open(self.path) as fp:
                    try:
                        data = json.load(fp)
                    except ValueError as exc:  # JSONDecodeError, or UnicodeDecodeError
                        raise ValueError(f"users file {self.path} is not JSON ({exc}); mend it or restore it "
                                         "from a backup") from None
                if not isinstance(data, dict) or not isinstance(data.get("users"), dict):
                    raise ValueError(f"users file {self.path} has no \"users\" object")
                data.setdefault("removed", {})
                self._stamp, self._data = stamp, data
            return self._data

    def lookup(self, name):
        """``(record, removed_at)`` of ``name``: its stored record or None, and when it was removed or None."""
        data = self.read()
        return data["users"].get(name), data["removed"].get(name)

    def list(self):
        """Every user as `public` shows it, by name."""
        users = self.read()["users"]
        return [public(name, users[name]) for name in sorted(users)]

    # -- changing --------------------------------------------------------------
    def add(self, name, role):
        """Add user ``name`` with ``role`` and a new random secret.

        Returns
        -------
        dict
            `public` of the user and ``secret``: the only time it is known.

        Raises
        ------
        UserError
            For an invalid name or role, or a name that exists already.
        """
        check_name(name)
        check_role(role)
        secret = _new_secret()
        with self._changing:
            data = self._copy()
            if name in data["users"]:
                raise UserError(f"user {name!r} exists already (sisock user rotate {name} gives it a new secret)",
                                "name")
            now = time.time()
            data["users"][name] = dict(role=role, created=now, rotated=now, **salted(secret))
            data["removed"].pop(name, None)
            self._write(data)
        return dict(public(name, data["users"][name]), secret=secret)

    def rotate(self, name):
        """Give user ``name`` a new random secret (the old one stops working); `add`'s answer."""
        secret = _new_secret()
        with self._changing:
            data = self._copy()
            record = self._existing(data, name)
            record.update(rotated=time.time(), **salted(secret))
            self._write(data)
        return dict(public(name, record), secret=secret)

    def remove(self, name):
        """Remove user ``name``; `public` of what it was. Raises `UserError` (``missing``) if there is none."""
        with self._changing:
            data = self._copy()
            record = self._existing(data, name)
            del data["users"][name]
            data["removed"][name] = time.time()
            self._write(data)
        return public(name, record)

    def _existing(self, data, name):
        if not isinstance(name, str) or name not in data["users"]:
            raise UserError(f"no user named {name!r}", "name", missing=True)
        return data["users"][name]

    def _copy(self):
        return json.loads(json.dumps(self.read()))

    def _write(self, data):
        """Replace the file with ``data`` atomically, mode 0600 (its directory is created if missing)."""
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        tmp = f"{self.path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fp:
            json.dump(data, fp, indent=2)
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(tmp, self.path)


def salted(secret):
    """WAMP-CRA's salted key of ``secret``: ``{salt, iterations, keylen, key}`` (key and salt as text)."""
    salt = _secrets.token_urlsafe(16)
    key = auth.derive_key(secret, salt, ITERATIONS, KEYLEN).decode("ascii")
    return {"salt": salt, "iterations": ITERATIONS, "keylen": KEYLEN, "key": key}


def _new_secret():
    return _secrets.token_urlsafe(32)


def _empty():
    return {"version": 1, "users": {}, "removed": {}}
