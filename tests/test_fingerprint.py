"""Weight fingerprints: read once per state of the files, remembered; hub blob names read nothing."""

from __future__ import annotations

import os

import pytest

import probes.fingerprint as fp


@pytest.fixture
def reads(monkeypatch):
    """Counts the files whose bytes are read by the hashing code."""
    seen: list[str] = []
    real = fp._update

    def counting(h, path):
        seen.append(os.path.basename(str(path)))
        return real(h, path)

    monkeypatch.setattr(fp, "_update", counting)
    return seen


def test_remembered_fingerprint_reads_each_file_once(tmp_path, reads):
    a, b = tmp_path / "config.json", tmp_path / "model.safetensors"
    a.write_text("{}")
    b.write_bytes(os.urandom(3 << 20))
    memo = tmp_path / "cache" / fp.MEMO_FILE
    first = fp.remembered_sha256_files([a, b], memo)
    assert first == fp.sha256_files([a, b])  # the same digest as before there was a memo
    assert reads == ["config.json", "model.safetensors", "config.json", "model.safetensors"]
    reads.clear()
    assert fp.remembered_sha256_files([a, b], memo) == first
    assert reads == []  # a re-run decides by stat alone
    st = b.stat()
    os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # touched: read again, same bytes, same digest
    assert fp.remembered_sha256_files([a, b], memo) == first
    assert reads == ["config.json", "model.safetensors"]


def test_changed_bytes_give_a_new_fingerprint(tmp_path):
    w = tmp_path / "w.bin"
    w.write_bytes(b"a" * 100)
    memo = tmp_path / fp.MEMO_FILE
    before = fp.remembered_sha256_files([w], memo)
    w.write_bytes(b"b" * 101)
    assert fp.remembered_sha256_files([w], memo) != before


def test_unwritable_memo_still_gives_the_digest(tmp_path, reads):
    w = tmp_path / "w.bin"
    w.write_bytes(b"x" * 10)
    blocker = tmp_path / "file"
    blocker.write_text("")
    digest = fp.remembered_sha256_files([w], blocker / "memo.json")  # its folder cannot be made
    assert digest == fp.sha256_files([w])


def test_hub_blob_names_are_content_addresses(tmp_path):
    blobs, snap = tmp_path / "blobs", tmp_path / "snapshots" / "abc"
    blobs.mkdir()
    snap.mkdir(parents=True)
    name = "a" * 64
    (blobs / name).write_bytes(b"weights")
    (snap / "model.safetensors").symlink_to(blobs / name)
    (snap / "plain.bin").write_bytes(b"weights")
    assert fp.hub_blob_name(snap / "model.safetensors") == name
    assert fp.hub_blob_name(snap / "plain.bin") is None
    (snap / "odd").symlink_to(snap / "plain.bin")  # a link, but not into blobs/
    assert fp.hub_blob_name(snap / "odd") is None


def test_lookup_only_reads_nothing(tmp_path, reads):
    w = tmp_path / "w.bin"
    w.write_bytes(b"x" * 10)
    memo = tmp_path / fp.MEMO_FILE
    assert fp.remembered_sha256_files([w], memo, read=False) is None
    assert reads == [] and not memo.exists()
    digest = fp.remembered_sha256_files([w], memo)
    assert fp.remembered_sha256_files([w], memo, read=False) == digest
