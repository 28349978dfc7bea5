"""The image store: firmware bytes on disk, content-addressed by their sha256.

Uploads stream into a temporary file beside the store while being hashed and counted; only a
complete, verified upload is renamed into place, so a refused, oversized or interrupted upload
leaves nothing behind. Two images with the same bytes share one file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable
from typing import BinaryIO, Protocol

from cyborg_lite import exception

CHUNK = 1024 * 1024


class Readable(Protocol):
    """Anything with ``read(size) -> bytes`` (a WSGI input stream, a file)."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; empty at the end."""
        ...


class Staged:
    """Bytes received into a temporary file, not yet in the store."""

    def __init__(self, path: str, sha256: str, size: int) -> None:
        self.path = path
        self.sha256 = sha256
        self.size = size

    def discard(self) -> None:
        """Remove the temporary file (idempotent)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class ImageStore:
    """A folder of images named ``sha256/<2 hex>/<64 hex>``."""

    def __init__(self, root: str) -> None:
        self.root = root

    def path_for(self, sha256: str) -> str:
        """Where the image with ``sha256`` lives (whether or not it exists)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise exception.Invalid(f"Not a sha256 digest: {sha256!r}")
        return os.path.join(self.root, "sha256", sha256[:2], sha256)

    def stage(self, stream: Readable, max_bytes: int, expected_length: int | None) -> Staged:
        """Copy ``stream`` into a temporary file, hashing it; 413 past ``max_bytes``.

        A body shorter than its Content-Length (a dropped client) is refused with 400.
        """
        if expected_length is not None and expected_length > max_bytes:
            raise exception.PayloadTooLarge(
                f"Image of {expected_length} bytes is over the limit of {max_bytes} bytes "
                "([firmware] max_image_bytes)."
            )
        tmp_dir = os.path.join(self.root, "tmp")
        os.makedirs(tmp_dir, exist_ok=True)
        fd, path = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = stream.read(CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > max_bytes:
                        raise exception.PayloadTooLarge(
                            f"Image is over the limit of {max_bytes} bytes "
                            "([firmware] max_image_bytes)."
                        )
                    digest.update(chunk)
                    out.write(chunk)
            if expected_length is not None and size != expected_length:
                raise exception.Invalid(
                    f"Upload ended after {size} of {expected_length} bytes; nothing was stored."
                )
            if size == 0:
                raise exception.Invalid("The image is empty; nothing was stored.")
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            raise
        return Staged(path, digest.hexdigest(), size)

    def commit(self, staged: Staged) -> str:
        """Move a verified staged file into place; returns its store path."""
        final = self.path_for(staged.sha256)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        # Same bytes already stored: keep the existing file, drop the copy.
        if os.path.exists(final):
            staged.discard()
        else:
            os.replace(staged.path, final)
        return final

    def open(self, sha256: str) -> BinaryIO:
        """The stored image for reading; NotFound if its bytes are gone."""
        try:
            return open(self.path_for(sha256), "rb")  # the caller closes it
        except FileNotFoundError as err:
            raise exception.NotFound(
                f"The bytes of image {sha256} are missing from the store."
            ) from err

    def remove(self, sha256: str, still_used: Callable[[str], bool]) -> None:
        """Delete the bytes unless another image still uses them."""
        if still_used(sha256):
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path_for(sha256))


def file_sha256(path: str) -> str:
    """The sha256 of a file, read in chunks (agents re-check before flashing)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
