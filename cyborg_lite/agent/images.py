"""Fetching a firmware image from the API and checking its digest before any flash.

The agent streams ``GET {[agent] api_endpoint}/v2/firmware_images/{uuid}/file`` to a file under
``state_path`` (never holding the image in memory), hashing it on the way, and refuses it when
the sha256 differs from the one the conductor sent with the job: the catalog checked the bytes
at upload, but the store may have changed since, and the agent trusts nothing it did not check
itself (firmware-prior-art.md, lesson 2).

The last ``CACHE_KEEP`` images checked are kept (``<sha256>.img``), so a host flashing ten
devices with one image downloads it once; each use hashes the kept file again first, and one
that no longer matches is thrown away and downloaded anew.

Requests go through a keystoneauth1 ``Session`` built from ``[agent_api]``: with an auth type
configured (a service user, in production) it carries a token; without one, it sends the
identity headers that a noauth API accepts, with the ``service`` role the download policy asks
for.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import uuid as uuidlib
from typing import Any

import requests
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from oslo_config import cfg

from cyborg_lite.conf import agent_api

CHUNK = 1 << 20
# Seconds a connection or a read may stall when [agent_api] timeout is unset.
DEFAULT_TIMEOUT = 300.0
MICROVERSION = "accelerator 2.4"
# What a noauth API reads as "a service", as keystonemiddleware would set for a service token.
NOAUTH_HEADERS = {"X-Roles": "service", "X-Service-Roles": "service"}
_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")
CACHE_KEEP = 2


class ImageError(Exception):
    """An image could not be fetched or is not what the job says; ``code`` is the job's
    error code (``download-failed`` or ``checksum-mismatch``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def make_session(conf: cfg.ConfigOpts) -> tuple[ks_session.Session, bool]:
    """A keystoneauth1 session from ``[agent_api]``, and whether it authenticates.

    No I/O happens here: a token is fetched on the first request.
    """
    group = agent_api.GROUP.name
    auth = ks_loading.load_auth_from_conf_options(conf, group)
    # keystoneauth1's own default is no timeout: a stalled API would hold the job forever.
    timeout = conf[group].timeout or DEFAULT_TIMEOUT
    session = ks_loading.load_session_from_conf_options(conf, group, auth=auth, timeout=timeout)
    return session, auth is not None


class ImageSource:
    """Downloads images from the API into ``folder`` and checks them."""

    def __init__(
        self,
        endpoint: str,
        folder: str,
        session: ks_session.Session,
        *,
        authenticated: bool = False,
        connect_retries: int = 0,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.folder = folder
        self._session = session
        self._authenticated = authenticated
        self._connect_retries = connect_retries

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> ImageSource:
        """The source ``conf`` describes, downloading under ``$state_path/agent-downloads``."""
        session, authenticated = make_session(conf)
        folder = os.path.join(conf.state_path, "agent-downloads", str(conf.host))
        return cls(
            conf.agent.api_endpoint,
            folder,
            session,
            authenticated=authenticated,
            connect_retries=int(conf.agent.download_retries),
        )

    def url(self, image_uuid: str) -> str:
        """Where an image's bytes are served."""
        return f"{self.endpoint}/v2/firmware_images/{image_uuid}/file"

    def clear(self) -> None:
        """Remove downloads a previous run left behind (it stopped before cleaning up), and
        the kept images."""
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(self.folder):
                if name.endswith((".part", ".img")):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(self.folder, name))

    def _cached(self, image_uuid: str, sha256: str) -> str | None:
        """A fresh link to the kept copy of ``sha256`` if it still hashes right, else None."""
        kept = os.path.join(self.folder, f"{sha256}.img")
        fd, path = tempfile.mkstemp(prefix=f"{image_uuid}-", suffix=".part", dir=self.folder)
        os.close(fd)
        os.unlink(path)
        try:
            os.link(kept, path)
        except (FileNotFoundError, FileExistsError):
            return None
        try:
            with open(path, "rb") as src:
                ok = hashlib.file_digest(src, "sha256").hexdigest() == sha256
        except OSError:
            ok = False
        if not ok:
            for stale in (path, kept):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(stale)
            return None
        os.utime(kept)  # most recently used: kept longest
        return path

    def _keep(self, path: str, sha256: str) -> None:
        """Keep a checked download under its digest; only the newest ``CACHE_KEEP`` stay."""
        kept = os.path.join(self.folder, f"{sha256}.img")
        with contextlib.suppress(FileExistsError):
            os.link(path, kept)
        names = [n for n in os.listdir(self.folder) if n.endswith(".img")]
        by_age = sorted(names, key=lambda n: os.stat(os.path.join(self.folder, n)).st_mtime)
        for old in by_age[:-CACHE_KEEP]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.folder, old))

    def fetch(self, image_uuid: str, sha256: str | None, size: int | None = None) -> str:
        """Download an image and check it; returns the file's path (the caller removes it).

        Raises ``ImageError``: ``download-failed`` naming the URL when the API cannot be
        reached or answers an error, ``checksum-mismatch`` when the bytes are not the ones
        the job expects. Nothing is left on disk when it raises.
        """
        # The uuid becomes part of a URL and of a file name: anything but a uuid (a "../",
        # a "?") from a confused or forged job must reach neither.
        try:
            image_uuid = str(uuidlib.UUID(image_uuid))
        except (ValueError, TypeError, AttributeError):
            raise ImageError(
                "download-failed", f"The job's image id {image_uuid!r} is not a uuid."
            ) from None
        url = self.url(image_uuid)
        if not sha256:
            raise ImageError("checksum-mismatch", f"The job gives no sha256 for image {url}.")
        if not _SHA256_RE.fullmatch(sha256):
            raise ImageError(
                "checksum-mismatch", f"The job's sha256 {sha256!r} for image {url} is not one."
            )
        os.makedirs(self.folder, exist_ok=True)
        sha256 = sha256.lower()
        cached = self._cached(image_uuid, sha256)
        if cached is not None:
            return cached
        fd, path = tempfile.mkstemp(prefix=f"{image_uuid}-", suffix=".part", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as out:
                digest, received = self._stream(url, out, size)
                out.flush()
                os.fsync(out.fileno())
            if digest != sha256:
                raise ImageError(
                    "checksum-mismatch",
                    f"Image {url} hashes to {digest} ({received} bytes), not the expected "
                    f"{sha256}; refused before touching the device.",
                )
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            raise
        self._keep(path, sha256)
        return path

    def _stream(self, url: str, out: Any, size: int | None) -> tuple[str, int]:
        headers = {"OpenStack-API-Version": MICROVERSION, "Accept": "application/octet-stream"}
        if not self._authenticated:
            headers.update(NOAUTH_HEADERS)
        digest = hashlib.sha256()
        received = 0
        try:
            response = self._session.get(
                url,
                headers=headers,
                stream=True,
                raise_exc=False,
                authenticated=self._authenticated,
                connect_retries=self._connect_retries,
            )
            with contextlib.closing(response):
                if response.status_code != 200:
                    raise ImageError(
                        "download-failed",
                        f"GET {url} answered {response.status_code}: {_reason(response)}",
                    )
                for chunk in response.iter_content(CHUNK):
                    received += len(chunk)
                    # A known size bounds what lands on disk: a wrong image stops early.
                    if size is not None and received > size:
                        raise ImageError(
                            "checksum-mismatch",
                            f"Image {url} is larger than the expected {size} bytes; refused.",
                        )
                    digest.update(chunk)
                    out.write(chunk)
        except (ks_exc.ClientException, requests.RequestException, OSError) as err:
            raise ImageError("download-failed", f"GET {url} failed: {err}") from err
        return digest.hexdigest(), received


def _reason(response: requests.Response) -> str:
    """The API's ``faultstring`` where it sent Cyborg's envelope, else the status text."""
    try:
        outer = response.json()
        inner = json.loads(outer["error_message"])
        return str(inner["faultstring"])
    except (ValueError, KeyError, TypeError):
        return str(response.reason)
