"""The identity of a model's files, for the extraction cache key."""

from __future__ import annotations

import hashlib
import os


def sha256_files(paths: list[str]) -> str:
    """sha256 over the base names and bytes of files, in the order given."""
    h = hashlib.sha256()
    for p in paths:
        h.update(os.path.basename(p).encode())
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()
