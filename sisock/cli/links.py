"""Routers joined into one realm from the command line: ``sisock link-key`` and ``--accept-link``.

A site router (``sisock up --link-to URL``) authenticates its router link
to the central router with its Crossbar node key; the central router
(``sisock up --accept-link NAME=KEY``) lists the public keys it accepts.
``sisock link-key`` prints a home's public key, made if missing, so that
the key can be handed over before either router starts.
"""

import argparse
import os
import re

from sisock import config
from sisock.router.links import link_transport, node_public_key

#: A site name: what the central router calls the link (its authid is ``link-NAME``).
SITE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
#: A Crossbar node public key: Ed25519, 32 bytes in hex.
PUBLIC_KEY = re.compile(r"[0-9a-f]{64}")


def router_dir(home):
    """The router directory of ``SISOCK_HOME`` ``home`` (where ``sisock up`` runs Crossbar)."""
    return os.path.join(os.path.abspath(home), "router")


def accepted_link(text):
    """Parse one ``--accept-link NAME=KEY`` value into ``(name, key)``.

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not a site name (lower case letters, digits, ``_``,
        ``-``), ``=`` and a 64-digit hex public key (``sisock link-key``).
    """
    name, _, key = text.partition("=")
    key = key.strip().lower()
    if not SITE_NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(
            f"NAME of NAME=KEY must be lower case letters, digits, _ or - (up to 64), got {name!r}")
    if not PUBLIC_KEY.fullmatch(key):
        raise argparse.ArgumentTypeError(
            f"KEY of {name}=KEY must be the site's 64 hex digits public key (`sisock link-key` there), got {key!r}")
    return name, key


def link_problems(link, link_keys, proxies):
    """Reasons ``sisock up`` cannot make the router links asked for, as sentences.

    Parameters
    ----------
    link : str or None
        ``--link-to`` URL.
    link_keys : dict
        ``--accept-link`` sites and keys.
    proxies : int
        ``--proxies``.

    Returns
    -------
    list of str
        One sentence per problem, naming the option; empty if the links can be made.
    """
    found = []
    if link:
        try:
            link_transport(link)
        except ValueError as exc:
            found.append(f"--link-to: {exc}")
    if link and link_keys:
        found.append("a router either links to a central one (--link-to) or accepts links (--accept-link), "
                     "not both: Crossbar's links do not forward a call twice, so join sites in a star")
    if proxies and (link or link_keys):
        found.append("--proxies cannot be combined with router links yet (links through proxy workers are untried)")
    return found


def link_key_arguments(parser):
    """Options of ``sisock link-key``."""
    parser.description = (
        "Print the public key this home's router links with (Ed25519, hex), making the key pair in "
        "$SISOCK_HOME/router/ (key.priv mode 0600, key.pub) if missing. A site router started with "
        "`sisock up --link-to URL` authenticates to the central router with it; the central router "
        "accepts it with `sisock up --accept-link NAME=KEY`. The private key never leaves the site.")
    parser.epilog = """\
examples:
  sisock link-key --home /var/lib/sisock-site1      on the site host: print its key
  sisock up --accept-link site1=KEY                 on the central host: accept it
  sisock up --home /var/lib/sisock-site1 --link-to ws://central.example:8080/ws
"""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--home", default=None, help="state directory of the site (env SISOCK_HOME; default ./.sisock)")


def link_key(args):
    """Run ``sisock link-key``: print the public key on one line."""
    print(node_public_key(router_dir(args.home or config.home_dir())))
    return 0
