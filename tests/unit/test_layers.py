"""The layers of ``DESIGN.md`` ("Layers"), checked on the import graph of ``cyborg_lite``.

Every module is parsed with ``ast`` (nothing is imported), and every import statement counts,
also those inside functions and ``if TYPE_CHECKING:`` blocks: a lazy import is still a
dependency of the layer.
"""

from __future__ import annotations

import ast
import dataclasses
import pathlib
from collections.abc import Iterable

import pytest

import cyborg_lite

PACKAGE = pathlib.Path(cyborg_lite.__file__).parent


@dataclasses.dataclass(frozen=True)
class Import:
    """One name a module imports: ``from a.b import c`` is ``a.b.c``, ``import a.b`` is ``a.b``."""

    module: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.module} imports {self.target} (line {self.line})"


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports_of(module: str, source: str, is_package: bool) -> Iterable[Import]:
    # The package a relative import starts from: the module's own for an __init__.py.
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                source_module = f"{base}.{node.module}" if node.module else base
            else:
                source_module = node.module or ""
            for alias in node.names:
                # ``from x import y`` may name a submodule or an attribute; either is of ``x``.
                name = source_module if alias.name == "*" else f"{source_module}.{alias.name}"
                yield Import(module, name, node.lineno)


def _all_imports() -> list[Import]:
    out: list[Import] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        out += _imports_of(_module_name(path), path.read_text(), path.name == "__init__.py")
    return out


IMPORTS = _all_imports()


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _offenders(layer: str, forbidden: Iterable[str], allowed: Iterable[str] = ()) -> list[str]:
    """Imports of modules in ``layer`` that are in one of ``forbidden`` but not ``allowed``."""
    forbidden, allowed = tuple(forbidden), tuple(allowed)
    return [
        str(i)
        for i in IMPORTS
        if _within(i.module, layer)
        and any(_within(i.target, f) for f in forbidden)
        and not any(_within(i.target, a) for a in allowed)
    ]


def test_the_scan_reads_every_kind_of_import():
    # Guards the rules below against passing on a scan that misses imports.
    source = (
        "import a.b\n"
        "from c import d\n"
        "from . import e\n"
        "from ..f import g\n"
        "def h():\n"
        "    from i import *\n"
    )
    targets = {i.target for i in _imports_of("p.q.r", source, is_package=False)}
    assert targets == {"a.b", "c.d", "p.q.e", "p.f.g", "i"}
    assert {i.target for i in _imports_of("p.q", "from . import e", is_package=True)} == {"p.q.e"}


RULED = (
    "cyborg_lite.cluster",
    "cyborg_lite.db",
    "cyborg_lite.drivers",
    "cyborg_lite.firmware",
    "cyborg_lite.inventory",
    "cyborg_lite.lending",
    "cyborg_lite.usage",
    "cyborg_lite.usecases",
)


@pytest.mark.parametrize("layer", RULED)
def test_the_scan_covers_each_layer_the_rules_name(layer):
    assert any(_within(i.module, layer) for i in IMPORTS)


# Everything of the service above db/ (DESIGN.md: db/ may import the domain only).
ABOVE_DB = (
    "cyborg_lite.api",
    "cyborg_lite.conductor",
    "cyborg_lite.agent",
    "cyborg_lite.usecases",
    "cyborg_lite.placement",
    "cyborg_lite.nova",
    "cyborg_lite.rpc",
    "cyborg_lite.cli",
    "cyborg_lite.cmd",
)


def test_db_imports_nothing_above_it():
    assert _offenders("cyborg_lite.db", ABOVE_DB) == []


def test_drivers_import_nothing_of_the_service():
    # Strictly nothing but themselves, and that holds: a driver is handed its ConfigOpts and
    # reads the option groups that cyborg_lite.conf.drivers registers on it, so it needs no
    # import of cyborg_lite.conf, and it raises its own errors (drivers.host.ToolError and
    # below), not cyborg_lite.exception's.
    assert _offenders("cyborg_lite.drivers", ["cyborg_lite"], ["cyborg_lite.drivers"]) == []


def test_inventory_records_import_nothing_of_the_service():
    # inventory/ is a domain package: the conductor and db/ both import it, so it can import
    # neither (nor anything else of the service).
    assert _offenders("cyborg_lite.inventory", ["cyborg_lite"], ["cyborg_lite.inventory"]) == []


def test_firmware_imports_no_db():
    # firmware/ is pure domain code: its use cases live in usecases/ (rollouts, programs).
    offenders = [
        str(i)
        for i in IMPORTS
        if _within(i.module, "cyborg_lite.firmware") and _within(i.target, "cyborg_lite.db")
    ]
    assert offenders == []


def test_usage_rules_import_nothing_of_the_service():
    # usage/ is a domain package: the agent sums samples with it, the conductor judges idleness.
    assert _offenders("cyborg_lite.usage", ["cyborg_lite"], ["cyborg_lite.usage"]) == []


def test_lending_rules_import_nothing_of_the_service():
    # lending/ is a domain package (windows, pools, offers, loans): the API, db/ and the
    # conductor's engine all build on it. Like firmware/, it raises the domain errors of
    # cyborg_lite.exception, which imports nothing of the service itself.
    allowed = ["cyborg_lite.lending", "cyborg_lite.exception"]
    assert _offenders("cyborg_lite.lending", ["cyborg_lite"], allowed) == []


def test_cluster_rules_import_nothing_of_the_service():
    # cluster/ is a domain package (the hash ring): the conductor's membership builds on it.
    assert _offenders("cyborg_lite.cluster", ["cyborg_lite"], ["cyborg_lite.cluster"]) == []


def test_use_cases_know_nothing_of_http_or_the_services_above_them():
    # usecases/ is called by api/ and conductor/, and reaches the conductor through a port.
    above = ("cyborg_lite.api", "cyborg_lite.conductor", "cyborg_lite.agent", "cyborg_lite.cli")
    assert _offenders("cyborg_lite.usecases", above) == []
