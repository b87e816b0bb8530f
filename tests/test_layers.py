"""The house, read from its imports: each part imports only the layers below it, and nothing goes in circles."""

import ast

from tests.conftest import ROOT

#: part -> the parts it may import (besides itself). Read top to bottom: nothing imports a part above it.
ALLOWED = {
    "sisock.config": set(),
    "sisock.tls": set(),
    "sisock.numpy_abi": set(),
    "sisock.wire": {"sisock.config"},
    "sisock.store": {"sisock.wire"},
    "sisock.connection": {"sisock.config", "sisock.tls", "sisock.wire"},
    "sisock.router": {"sisock.config", "sisock.wire"},
    "sisock.frames": set(),
    # the blocking client's DataFrames and its queries across nodes (run on its own session, as the CLI's)
    "sisock.dataframes": {"sisock.frames", "sisock.hub", "sisock.wire"},
    "sisock.consumer": {"sisock.config", "sisock.connection", "sisock.wire"},
    "sisock.client": {"sisock.config", "sisock.connection", "sisock.consumer", "sisock.dataframes", "sisock.wire"},
    "sisock.aio": {"sisock.config", "sisock.connection", "sisock.consumer", "sisock.dataframes", "sisock.wire"},
    "sisock.node": {"sisock.config", "sisock.connection", "sisock.store", "sisock.wire"},
    "sisock.alerts": {"sisock.config", "sisock.wire"},
    "sisock.hub": {"sisock.alerts", "sisock.config", "sisock.connection", "sisock.wire"},
    "sisock.base": {"sisock.config", "sisock.node", "sisock.wire"},
    "sisock": {"sisock.aio", "sisock.base", "sisock.client", "sisock.node", "sisock.numpy_abi", "sisock.wire"},
    "sisock.cli": {"sisock", "sisock.client", "sisock.config", "sisock.connection", "sisock.hub", "sisock.node",
                   "sisock.router", "sisock.tls", "sisock.wire"},
    "nodes": {"sisock", "sisock.client", "sisock.config", "sisock.connection", "sisock.node", "sisock.wire"},
    # the bridge runs the fleet queries and reports of sisock.hub.fanout / reports on its own session
    "grafana_bridge": {"sisock.client", "sisock.config", "sisock.connection", "sisock.hub", "sisock.node",
                       "sisock.wire"},
}


def part(module):
    """The part a module belongs to: ``sisock.<subpackage or module>``, or its top-level package."""
    names = module.split(".")
    return ".".join(names[:2]) if names[0] == "sisock" and len(names) > 1 else names[0]


def imports():
    """``{(importing part, imported part): example module}`` over every module of sisock, nodes and the bridge."""
    found = {}
    for folder in ("sisock", "nodes", "grafana_bridge"):
        for path in (ROOT / folder).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    targets = [f"sisock.{a.name}" for a in node.names] if node.module == "sisock" else [node.module]
                elif isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                else:
                    continue
                for target in targets:
                    if target.split(".")[0] in ALLOWED and part(target) != part(module):
                        found.setdefault((part(module), part(target)), module)
    return found


def test_every_part_imports_only_the_layers_below_it():
    wrong = [f"{module} ({a}) imports {b}" for (a, b), module in imports().items() if b not in ALLOWED.get(a, ())]
    assert not wrong, wrong


def test_the_allowed_layers_have_no_cycle():
    def reaches(a, b, seen=()):
        return any(n == b or (n not in seen and reaches(n, b, (*seen, n))) for n in ALLOWED.get(a, ()))

    assert not [a for a in ALLOWED if reaches(a, a)]
