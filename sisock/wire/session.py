"""The framework-neutral half of a sisock session, shared by its Twisted and asyncio flavours.

A sisock session is an autobahn ``ApplicationSession`` of either flavour
(``autobahn.twisted`` for processes and `sisock.Client`, ``autobahn.asyncio``
for `sisock.aio`) with `SessionBase` mixed in before it: the same object
serves every connection (`SessionBase.fresh`), joins with WAMP-CRA when it
has a secret, else anonymously, and turns sisock's error URIs back into
their classes. A consumer of either flavour asks for the same procedures
with the same checks (`node_procedure`, `get_data_options`), reads a
chunked answer acknowledging its chunks the same way (`acknowledging`),
and maps a node that no one serves to the same `NoSuchNode` (`no_such_node`).
"""

from autobahn.wamp import auth
from autobahn.wamp.exception import ApplicationError

from sisock.config import Connection
from sisock.wire import uri, validate
from sisock.wire.errors import NoSuchNode, define_errors

#: Serializer ids over which get_data arrays travel as raw bytes (`sisock.wire.codec`).
BINARY_SERIALIZERS = ("msgpack", "cbor")


class SessionBase:
    """Authentication and per-connection reset of a sisock session (mix in before ``ApplicationSession``).

    ``config.extra["connection"]``, a :class:`sisock.config.Connection`,
    says as whom to join: WAMP-CRA with its ``authid``/``secret`` when it
    has a secret, else anonymously (the ``consumer`` role).
    """

    def fresh(self):
        """Reset the WAMP state for a new connection and return ``self``.

        Called by the transport factory on every connection, so that
        attributes of subclasses survive reconnects while registrations,
        subscriptions and pending requests start from nothing.
        """
        super().__init__(self.config)  # the ApplicationSession's, whatever the subclasses' own
        self._listeners = None
        define_errors(self)
        return self

    @property
    def connection(self):
        """The :class:`Connection` of this session."""
        return (self.config.extra or {}).get("connection") or Connection(realm=self.config.realm)

    def onConnect(self):
        conn = self.connection
        if conn.secret:
            self.join(self.config.realm, ["wampcra"], conn.authid)
        else:
            self.join(self.config.realm, ["anonymous"])

    def onChallenge(self, challenge):
        if challenge.method != "wampcra":
            raise ValueError(f"unsupported authentication method {challenge.method}")
        extra, key = challenge.extra, self.connection.secret
        if "salt" in extra:  # a named user's salted secret (sisock.router.users): sign with the derived key
            key = auth.derive_key(key, extra["salt"], extra["iterations"], extra["keylen"])
        return auth.compute_wcs(key, extra["challenge"])

    @property
    def encoding(self):
        """How get_data arrays should travel on this connection: ``"binary"`` over
        MessagePack or CBOR, ``"list"`` over JSON (`sisock.wire.codec`)."""
        serializer = getattr(self._transport, "_serializer", None)
        return "binary" if getattr(serializer, "SERIALIZER_ID", None) in BINARY_SERIALIZERS else "list"


def node_procedure(node, suffix):
    """The URI of procedure or topic ``suffix`` of data node ``node``, the name checked.

    Parameters
    ----------
    node : str
        Data node name.
    suffix : str
        ``"get_fields"``, ``"get_data"``, ``"get_latest"``, ``"command"``, ``"data"`` (the live topic), ...

    Raises
    ------
    sisock.wire.errors.InvalidArgument
        If ``node`` is not a valid node name (the message names ``node``).
    """
    return uri.node_uri(validate.node_name(node, "node"), suffix)


def no_such_node(error, node):
    """The exception a consumer raises for ``error``, answered to a call of ``node``'s procedure.

    Returns
    -------
    Exception
        `NoSuchNode` where the router found no such procedure (no node of
        that name registered), else ``error`` itself.
    """
    if isinstance(error, ApplicationError) and error.error == ApplicationError.NO_SUCH_PROCEDURE:
        return NoSuchNode(f"node {node!r} is not available (no such data node registered)")
    return error


def get_data_options(encoding, downsample):
    """The keyword arguments of a get_data call besides the progress option.

    Parameters
    ----------
    encoding : {"binary", "list"}
    downsample : str or None
        None leaves the node's default (the mean).
    """
    options = {"encoding": encoding}
    if downsample is not None:
        options["downsample"] = downsample
    return options


def acknowledging(reader, node, acknowledge):
    """The ``on_progress`` of a get_data call to ``node``: ``reader.feed`` each progressive result, and
    acknowledge the chunks read when ``reader.due_ack()`` says so (the node sends a few chunks ahead of
    them, `sisock.node.pacing`).

    Parameters
    ----------
    reader : sisock.wire.chunks.Assembler or sisock.wire.chunks.RowStream
    node : str
    acknowledge : callable
        ``acknowledge(procedure, token, chunks)`` calls ``consumer.<node>.get_data_ack`` without waiting,
        and drops its failure (a lost acknowledgement only slows the answer down).
    """
    procedure = node_procedure(node, "get_data_ack")

    def on_progress(message):
        reader.feed(message)
        ack = reader.due_ack()
        if ack is not None:
            acknowledge(procedure, *ack)

    return on_progress
