"""Names that become paths: checked to be one plain path component and resolved inside their root.

Data-set, model and task names from a config end up in cache file names. A name such as
``../../tmp/x`` must never make a run write, or a rebuild delete, anything outside the cache.
"""

from __future__ import annotations

import re
from pathlib import Path

from probes.errors import ProbesError

_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")


def unsafe_name(name: str) -> str | None:
    """Why `name` cannot be part of a file name (a path separator, a control character, '.' or '..'), or None."""
    if not name:
        return "it is empty"
    bad = _UNSAFE.search(name)
    if bad:
        what = "a control character" if ord(bad.group()) < 32 or bad.group() == "\x7f" else "a path separator"
        return f"it contains {bad.group()!r}, {what} (names must be one plain file-name component)"
    if name in (".", ".."):
        return f"{name!r} names a directory"
    return None


def inside(root: str | Path, name: str) -> Path:
    """root/name, refused unless `name` is one plain component that resolves inside `root`."""
    why = unsafe_name(name)
    if why:
        raise ProbesError(f"{name!r} cannot be used as a file name under {root}: {why}")
    root = Path(root).resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise ProbesError(f"{name!r} resolves to {path}, outside {root}")
    return root / name
