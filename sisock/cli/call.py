"""``sisock call``: a node's API, its commands and its own procedures from a shell.

The node's ``get_api`` says what it offers: commands (admin only, through
``consumer.NAME.command``) and procedures (``consumer.NAME.<procedure>``,
open to the roles each allows). ``key=value`` words are parsed with the
declared types (a ``str`` parameter takes the text as it is, others take
JSON: ``50``, ``true``, ``null``, ``[1, 2]``; anything else is text) and
bare words fill the parameters in order. The node checks the values
against the types before the command runs.
"""

import base64
import json
import sys

from twisted.internet import defer

from sisock import config
from sisock.cli import output
from sisock.cli import support as cli
from sisock.wire import uri
from sisock.wire.errors import InvalidArgument, NoSuchCommand, NoSuchNode


def call_arguments(parser):
    """Options of ``sisock call``."""
    parser.description = (
        "Send COMMAND to NODE, or call one of its own procedures, with arguments key=value (or values in "
        "parameter order) and print the answer. A parameter declared str takes the text as it is; others "
        "take JSON (50, true, null, [1, 2]), anything else is text. Without COMMAND, show the node's API: "
        "description, fields, commands and procedures with their parameters. As a named user (SISOCK_USER and "
        "SISOCK_SECRET: an operator or admin may send commands), else with the admin secret at hand "
        "(SISOCK_ADMIN_SECRET or the secrets file) as admin, else as an anonymous consumer, who may "
        "call the procedures open to consumers but no command. An answer of bytes (an image) is written raw "
        "to --output FILE or to stdout when that is not a terminal; --json shows bytes as "
        "{\"base64\": ..., \"bytes\": N}.")
    parser.epilog = """\
examples:
  sisock call fleet.lamp0001                    what the lamp offers
  sisock call fleet.lamp0001 dim level=40
  sisock call fleet.lamp0001 switch on=false --json
  sisock call brewing alarms.active             a procedure (no admin secret needed)
  sisock call brewing settings.get key=units
  sisock call pixels snapshot scale=8 --output frame.png
"""
    parser.add_argument("node", metavar="NODE", help="data node name, e.g. weather or fleet.lamp0001")
    parser.add_argument("name", nargs="?", metavar="COMMAND", help="a command or procedure (default: show the API)")
    parser.add_argument("arguments", nargs="*", metavar="key=value", help="arguments of the command")
    parser.add_argument("--output", "-o", metavar="FILE",
                        help="write the answer to FILE (bytes raw, anything else as JSON; - for stdout)")
    cli.add_arguments(parser, admin=True)


def _node_procedure(session, node, suffix, *args, **kwargs):
    def absent(failure):
        from autobahn.wamp.exception import ApplicationError

        failure.trap(ApplicationError)
        if failure.value.error == ApplicationError.NO_SUCH_PROCEDURE:
            raise NoSuchNode(f"node {node!r} is not available (no such data node registered)")
        return failure

    return session.call(uri.node_uri(node, suffix), *args, **kwargs).addErrback(absent)


def _signature(spec):
    params = ", ".join(p["name"] if p["required"] else f"{p['name']}={json.dumps(p['default'])}"
                       for p in spec["parameters"])
    return f"{spec['name']}({params})"


def _show_api(api):
    from rich.text import Text

    out = output.console()
    out.print(Text(f"{api['name']}: {api['description']}", style="bold"))
    for name, meta in sorted(api["fields"].items()):
        out.print(Text(f"  field {name} [{meta.get('units') or '-'}] {meta.get('description') or ''}"))
    commands = {c["name"] for c in api["commands"]}
    own = [p for p in api.get("procedures", []) if p["name"] not in commands]
    for kind, specs in (("command", api["commands"]), ("procedure", own)):
        for spec in specs:
            who = f" [{' or '.join(spec['roles'])}]" if spec.get("roles") else ""
            out.print(Text(f"  {kind} {_signature(spec)}{who}: {spec['description']}"))
            for p in spec["parameters"]:
                typed = f" ({p['type']})" if p["type"] else ""
                if p["description"] or typed:
                    out.print(Text(f"      {p['name']}{typed}: {p['description']}".rstrip(": ")))


def _value(text, kind):
    """A word of the command line as the value of a parameter of type ``kind`` (`get_api`'s name)."""
    if kind in ("str", "str | None"):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_arguments(spec, words):
    """``(positional, keywords)`` of the ``key=value`` and bare ``words`` for a command or procedure.

    Parameters
    ----------
    spec : dict
        Its `get_api` entry: ``{"name", "parameters": [{"name", "type", ...}]}``.
    words : list of str
        The command-line words after its name.

    Raises
    ------
    sisock.wire.errors.InvalidArgument
        A bare word that names a parameter (``offset`` for ``offset=1``),
        or one more bare word than there are parameters, or a bare word
        after a ``key=value``.
    """
    params = spec["parameters"]
    types = {p["name"]: p["type"] for p in params}
    positional, keywords = [], {}
    for word in words:
        key, eq, text = word.partition("=")
        if eq and key.isidentifier():
            keywords[key] = _value(text, types.get(key))
            continue
        if word in types:
            raise InvalidArgument(f"{word}: give it a value, {word}=VALUE; usage: {_signature(spec)}")
        if keywords or len(positional) >= len(params):
            raise InvalidArgument(f"{word!r} is not an argument of {spec['name']}: arguments are key=value; "
                                  f"usage: {_signature(spec)}")
        positional.append(_value(word, params[len(positional)]["type"]))
    return positional, keywords


def _jsonable(value):
    """``value`` with bytes as ``{"base64": ..., "bytes": N}`` (and what `output.plain` converts)."""
    if isinstance(value, (bytes, bytearray)):
        return {"base64": base64.b64encode(value).decode("ascii"), "bytes": len(value)}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return output.plain(value)


def _write(answer, path):
    """Write ``answer`` to ``path`` (``-``: stdout): bytes as they are, anything else as JSON."""
    data = (bytes(answer) if isinstance(answer, (bytes, bytearray))
            else (json.dumps(_jsonable(answer)) + "\n").encode())
    if path == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        with open(path, "wb") as fp:
            fp.write(data)
    except OSError as exc:
        raise cli.Failed(cli.ERROR, f"--output {path}: {exc.strerror}") from None
    print(f"wrote {len(data)} bytes to {path}", file=sys.stderr)


def _show(answer, args):
    if args.output is not None:
        return _write(answer, args.output)
    if isinstance(answer, (bytes, bytearray)) and not args.json:
        if sys.stdout.isatty():
            raise cli.Failed(cli.USAGE, f"the answer is {len(answer)} bytes, not shown on a terminal: "
                                        f"--output FILE writes them, --json shows them as base64")
        return _write(answer, "-")
    if args.json:
        output.print_json(_jsonable(answer))
    elif isinstance(answer, dict):
        for key, value in answer.items():
            print(f"{key}: {json.dumps(_jsonable(value))}")
    elif answer is not None:
        print(json.dumps(_jsonable(answer)))


@defer.inlineCallbacks
def _call(session, args):
    api = yield _node_procedure(session, args.node, "get_api")
    if args.name is None:
        if args.json:
            output.print_json(api)
        else:
            _show_api(api)
        return cli.OK
    commands = {c["name"]: c for c in api["commands"]}
    procedures = {p["name"]: p for p in api.get("procedures", [])}
    spec = commands.get(args.name) if args.admin or args.name not in procedures else None
    spec = spec or procedures.get(args.name)
    if spec is None:
        raise NoSuchCommand(f"node {args.node!r} has no command or procedure {args.name!r}; it has: "
                            f"{', '.join(sorted({**commands, **procedures})) or 'none'}")
    if args.name not in procedures and not args.admin:
        raise cli.Failed(cli.NOT_AUTHORIZED, f"{args.name} is a command: commands need the admin secret "
                                             f"(SISOCK_ADMIN_SECRET or the secrets file) or an operator's "
                                             f"(SISOCK_USER and SISOCK_SECRET)")
    positional, keywords = parse_arguments(spec, args.arguments)
    if spec is commands.get(args.name):
        answer = yield _node_procedure(session, args.node, "command", args.name, *positional, **keywords)
    else:
        answer = yield _node_procedure(session, args.node, args.name, *positional, **keywords)
    _show(answer, args)
    return cli.OK


def call(args):
    """Run ``sisock call``: with credentials when at hand (`sisock.config.credentials`), else as an anonymous
    consumer."""
    try:
        config.credentials(args.secret_file)
        args.admin = True
    except config.SecretsError:
        args.admin = False
    return cli.run_command(args, _call, admin=args.admin)
