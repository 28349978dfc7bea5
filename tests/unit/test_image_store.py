"""The image store: streaming, limits, atomic commit, sharing of identical bytes."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from cyborg_lite import exception
from cyborg_lite.firmware import store


class CountingReader:
    """A stream that counts what was read from it."""

    def __init__(self, data: bytes) -> None:
        self._io = io.BytesIO(data)
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._io.read(size)
        self.read_bytes += len(chunk)
        return chunk


def files(root):
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
    )


def test_stage_and_commit(tmp_path):
    data = os.urandom(3 * store.CHUNK + 17)
    s = store.ImageStore(str(tmp_path))
    staged = s.stage(io.BytesIO(data), max_bytes=len(data), expected_length=len(data))
    assert staged.sha256 == hashlib.sha256(data).hexdigest()
    assert staged.size == len(data)
    final = s.commit(staged)
    with open(final, "rb") as f:
        assert f.read() == data
    assert files(tmp_path) == [f"sha256/{staged.sha256[:2]}/{staged.sha256}"]
    assert store.file_sha256(final) == staged.sha256


def test_oversized_stream_stops_early_and_leaves_nothing(tmp_path):
    data = b"x" * (10 * store.CHUNK)
    reader = CountingReader(data)
    s = store.ImageStore(str(tmp_path))
    with pytest.raises(exception.PayloadTooLarge):
        s.stage(reader, max_bytes=2 * store.CHUNK, expected_length=None)
    # It stopped after the chunk that crossed the limit, not at the end of the stream.
    assert reader.read_bytes <= 3 * store.CHUNK
    assert files(tmp_path) == []


def test_declared_length_over_limit_reads_nothing(tmp_path):
    reader = CountingReader(b"x" * 100)
    with pytest.raises(exception.PayloadTooLarge):
        store.ImageStore(str(tmp_path)).stage(reader, max_bytes=10, expected_length=100)
    assert reader.read_bytes == 0


def test_short_body_is_refused(tmp_path):
    with pytest.raises(exception.Invalid, match="ended after 5 of 9 bytes"):
        store.ImageStore(str(tmp_path)).stage(io.BytesIO(b"12345"), 100, expected_length=9)
    assert files(tmp_path) == []


def test_identical_bytes_share_one_file(tmp_path):
    s = store.ImageStore(str(tmp_path))
    first = s.commit(s.stage(io.BytesIO(b"same"), 100, 4))
    second = s.commit(s.stage(io.BytesIO(b"same"), 100, 4))
    assert first == second
    assert len(files(tmp_path)) == 1
    s.remove(hashlib.sha256(b"same").hexdigest(), still_used=lambda _d: True)
    assert len(files(tmp_path)) == 1
    s.remove(hashlib.sha256(b"same").hexdigest(), still_used=lambda _d: False)
    assert files(tmp_path) == []


def test_path_refuses_non_digests(tmp_path):
    with pytest.raises(exception.Invalid):
        store.ImageStore(str(tmp_path)).path_for("../../etc/passwd")
