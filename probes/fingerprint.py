"""sha256 identities of files: model weights for cache keys, data files for manifests and checksums."""

from __future__ import annotations

import hashlib
import os
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
