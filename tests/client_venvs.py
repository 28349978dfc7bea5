"""Virtual environments for the real clients that the compatibility tests drive unchanged.

Clients that must not share the project's own venv (python-cyborgclient beside OSC's in-tree
``accelerator`` commands, Nova with its own pins) each get a venv under ``.venv-clients/<name>``
at the top of the checkout, built once from PyPI and kept while its requirement list is the
same (a stamp file holds the list it was built from). A build is serialized with a file lock,
so two test processes never build one venv at the same time.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / ".venv-clients"
_BUILD_TIMEOUT = 900  # seconds: Nova's dependency tree is large on a cold pip cache


def ensure(name: str, requirements: Sequence[str]) -> Path:
    """The venv ``name`` with exactly ``requirements`` installed (built when missing or
    when the list changed); returns its folder. Raises with pip's output when a build fails."""
    folder = ROOT / name
    stamp = folder / ".requirements-stamp"
    wanted = "\n".join(requirements) + "\n"
    ROOT.mkdir(parents=True, exist_ok=True)
    with (ROOT / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == wanted:
            return folder
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
        done = subprocess.run(
            [str(folder / "bin" / "python"), "-m", "pip", "install", "-q", *requirements],
            capture_output=True,
            text=True,
            timeout=_BUILD_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"pip could not build the {name} client venv ({', '.join(requirements)}):\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        stamp.write_text(wanted)
    return folder


def script(venv: Path, name: str) -> str:
    """The path of console script ``name`` in ``venv``."""
    return str(venv / "bin" / name)
