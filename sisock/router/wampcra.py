"""WAMP-CRA with salted keys stored instead of secrets, in Crossbar's processes.

With salted WAMP-CRA the client signs the router's challenge with
``derive_key(secret, salt, iterations, keylen)`` (PBKDF2), learning the
salt and its parameters from the challenge. Crossbar (26.10.1) derives that
key itself from the secret its authenticator returns, so it would need the
secret in clear. `use_stored_keys` lets an authenticator return the derived
key instead (``{"secret": key, "salt": ..., "iterations": ..., "keylen": ...,
STORED_KEY: True}``, as `sisock.router.auth` does for named users,
`sisock.router.users`): Crossbar then signs with that key as it is, and
still sends the salt and parameters, so a standard client (autobahn's
``auth.derive_key``, autobahn-js's ``auth_cra.derive_key``) answers it.

It must run in every Crossbar process that authenticates WAMP-CRA clients:
the router worker (`sisock.router.auth.RouterAuth`) and the proxy workers
(`sisock.router.python`, the Python of every worker, applies it). Without
it a stored key would be derived a second time and every such login
refused, never accepted by mistake.
"""

from crossbar.router.auth.wampcra import PendingAuthWampCra

#: The key of an authenticator's answer saying that its ``secret`` is the salted key already.
STORED_KEY = "sisock_salted_key"
_SALTING = ("salt", "iterations", "keylen")


def use_stored_keys():
    """Make Crossbar's WAMP-CRA sign with a stored salted key where the authenticator says so (idempotent)."""
    if getattr(PendingAuthWampCra, "_sisock_stored_keys", False):
        return
    compute = PendingAuthWampCra._compute_challenge

    def _compute_challenge(self, user):
        if not (isinstance(user, dict) and user.get(STORED_KEY)):
            return compute(self, user)
        extra, signature = compute(self, {"secret": user["secret"]})  # unsalted: the key signs as it is
        extra.update({name: user[name] for name in _SALTING})  # the client derives the same key
        return extra, signature

    PendingAuthWampCra._compute_challenge = _compute_challenge
    PendingAuthWampCra._sisock_stored_keys = True
