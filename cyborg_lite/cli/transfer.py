"""Moving image bytes: hashing, a streamed upload body, a verified download, a progress bar.

Nothing here holds a whole image in memory: files are read and written in chunks.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

CHUNK = 1 << 20
# Below this a transfer is over before a bar would be read; no bar is drawn.
BAR_THRESHOLD = 4 << 20
BAR_WIDTH = 30


def human_bytes(count: float) -> str:
    """``1536`` as ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """``[#####.....]`` for ``fraction`` (clamped to 0..1)."""
    fraction = min(1.0, max(0.0, fraction))
    filled = round(fraction * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


class TransferBar:
    """A one-line byte progress bar redrawn in place; silent unless ``stream`` is a TTY and the
    transfer is large. ``clock`` is injectable so redraws can be throttled testably."""

    def __init__(
        self,
        label: str,
        total: int,
        stream: IO[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        every: float = 0.1,
    ) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.enabled = total >= BAR_THRESHOLD and stream.isatty()
        self._clock = clock
        self._every = every
        self._last = float("-inf")
        self._done = 0

    def update(self, done: int) -> None:
        """Record ``done`` bytes; redraw at most every ``every`` seconds."""
        self._done = done
        now = self._clock()
        if self.enabled and (now - self._last >= self._every or done >= self.total):
            self._last = now
            self._draw()

    def _draw(self) -> None:
        fraction = self._done / self.total if self.total else 1.0
        self.stream.write(
            f"\r{self.label} {bar(fraction)} {fraction:4.0%} "
            f"{human_bytes(self._done)}/{human_bytes(self.total)}"
        )
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """The file's sha256, read in chunks."""
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done)
    return digest.hexdigest()


class FileBody(Iterable[bytes]):
    """A request body that reads ``path`` chunk by chunk as it is sent.

    ``len()`` gives requests the Content-Length, so the body is streamed with a known length
    rather than chunked (the API refuses an oversized image before reading it).
    """

    def __init__(self, path: Path, size: int, progress: Callable[[int], None] | None = None):
        self.path = path
        self.size = size
        self._progress = progress

    def __len__(self) -> int:
        return self.size

    def __str__(self) -> str:
        # keystoneauth's --debug log prints the body; never the bytes themselves.
        return f"<{self.size} bytes from {self.path}>"

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        with self.path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                sent += len(chunk)
                yield chunk
                if self._progress:
                    self._progress(sent)


def save(
    chunks: Iterable[bytes],
    target: Path,
    expected_sha256: str | None,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, str]:
    """Write ``chunks`` to ``target`` through a ``.part`` file, renamed only when the sha256
    matches ``expected_sha256`` (when given); returns (bytes, sha256). A mismatch or an error
    leaves no file behind."""
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    done = 0
    try:
        with partial.open("wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done)
        got = digest.hexdigest()
        if expected_sha256 and got != expected_sha256.lower():
            raise ValueError(
                f"The downloaded bytes hash to {got}, not the image's {expected_sha256}; "
                f"{target} was not written."
            )
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return done, got


def copy(chunks: Iterable[bytes], out: IO[bytes], expected_sha256: str | None) -> str:
    """Write ``chunks`` to ``out`` (a pipe: nothing to take back), then raise ValueError if
    they did not hash to ``expected_sha256``, so a script still sees the failure."""
    digest = hashlib.sha256()
    for chunk in chunks:
        out.write(chunk)
        digest.update(chunk)
    out.flush()
    got = digest.hexdigest()
    if expected_sha256 and got != expected_sha256.lower():
        raise ValueError(f"The downloaded bytes hash to {got}, not the image's {expected_sha256}.")
    return got
