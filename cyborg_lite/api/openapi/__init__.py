"""The OpenAPI 3 document of the whole API, assembled from one module per noun.

Each module in this package defines ``PATHS`` (OpenAPI path items keyed by template) and
``SCHEMAS`` (component schemas); ``document()`` merges them. A test checks that every route in
``api/routes.py`` is described and that real responses validate against the document.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import Any

from cyborg_lite import __version__


@functools.cache
def document() -> dict[str, Any]:
    """The assembled document (built once per process)."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for template, item in getattr(module, "PATHS", {}).items():
            paths.setdefault(template, {}).update(item)
        schemas.update(getattr(module, "SCHEMAS", {}))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "cyborg-lite API",
            "version": __version__,
            "description": "OpenStack Cyborg's v2 API (microversions 2.0-2.3) and cyborg-lite's "
            "additions. Errors use Cyborg's envelope: "
            '{"error_message": "<JSON string of {faultcode, faultstring, debuginfo}>"}.',
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": schemas},
    }
