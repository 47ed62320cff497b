"""sha256 identities of files: model weights for cache keys, data files for manifests and checksums."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Iterable


def _update(h, path: str | Path) -> None:
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)


def sha256_file(path: str | Path) -> str:
    """sha256 of one file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    _update(h, path)
    return h.hexdigest()


def sha256_files(paths: Iterable[str | Path]) -> str:
    """sha256 over the base names and bytes of several files, in the order given."""
    h = hashlib.sha256()
    for p in paths:
        h.update(os.path.basename(str(p)).encode() + b"\0")
        _update(h, p)
    return h.hexdigest()


MEMO_FILE = "fingerprints.json"
_MEMO_ENTRIES = 4096  # oldest forgotten first; one entry per model directory (or data file set) hashed
_BLOB_NAME = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # git sha1 (small files) or sha256 (LFS files)


def default_memo() -> Path:
    """The fingerprint memo beside the suite's other caches: $PROBES_CACHE/fingerprints.json (or ~/.cache/probes)."""
    from probes.encoders.download import cache_root

    return Path(cache_root()) / MEMO_FILE


def _identity(paths: list[Path]) -> str:
    # A file's bytes are taken as unchanged while its name, target, size, mtime and inode are: make's rule,
    # plus the inode, so that a file replaced by a copy with the same size and mtime (cp -p) is read again.
    parts = []
    for p in paths:
        st = os.stat(p)
        parts.append([os.path.basename(str(p)), os.path.realpath(p), st.st_size, st.st_mtime_ns, st.st_ino])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _read_memo(memo: Path) -> dict:
    try:
        data = json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remember(memo: Path, key: str, digest: str) -> None:
    from filelock import FileLock

    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(memo) + ".lock"):  # several workers may add entries at once
            data = _read_memo(memo)
            data[key] = {"sha256": digest, "t": time.time()}
            if len(data) > _MEMO_ENTRIES:
                for old in sorted(data, key=lambda k: data[k].get("t", 0) if isinstance(data[k], dict) else 0)[
                        :len(data) - _MEMO_ENTRIES]:
                    del data[old]
            tmp = memo.with_name(memo.name + f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, memo)
    except OSError:
        pass  # a read-only cache: the fingerprint is still right, only computed again next time


def remembered_sha256_files(paths: Iterable[str | Path], memo: str | Path | None = None, *,
                            read: bool = True) -> str | None:
    """``sha256_files(paths)``, read once per state of the files and remembered in the memo file.

    The memo (default ``default_memo()``) maps the files' names, real paths, sizes, mtimes and
    inodes to the digest, so that a re-run of a study with 100 GB of weights decides in
    milliseconds, by ``stat`` alone, that they did not change. ``read=False``: None instead of
    reading files whose digest is not remembered.
    """
    paths = [Path(p) for p in paths]
    memo = Path(memo) if memo is not None else default_memo()
    key = _identity(paths)
    entry = _read_memo(memo).get(key)
    if isinstance(entry, dict) and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    if not read:
        return None
    digest = sha256_files(paths)
    if _identity(paths) == key:  # not remembered if a file changed while it was being read
        _remember(memo, key, digest)
    return digest


def hub_blob_name(path: str | Path) -> str | None:
    """The content address of a Hugging Face hub cache file, or None when `path` is not one.

    In the hub cache, ``snapshots/<commit>/<file>`` is a symlink to ``blobs/<hash>``, named by the
    file's sha256 (large files) or git blob sha1 (small ones) when it was downloaded.
    """
    if not os.path.islink(path):
        return None
    target = Path(os.path.realpath(path))
    if target.parent.name == "blobs" and _BLOB_NAME.fullmatch(target.name) and target.is_file():
        return target.name
    return None
