"""The probing task catalogue: labels, edges, tree distances and sentence labels built from a corpus."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from probes.tasks.base import TaskData
    from probes.tasks.registry import TaskSpec, build_task, get_spec, list_tasks

__all__ = ["TaskData", "TaskSpec", "build_task", "get_spec", "list_tasks"]

# Resolved on first use (PEP 562): importing probes.tasks.cli for `probes --help` must not pull the
# registry, which imports numpy and scipy.
_LAZY = {"TaskData": "probes.tasks.base", "TaskSpec": "probes.tasks.registry", "build_task": "probes.tasks.registry",
         "get_spec": "probes.tasks.registry", "list_tasks": "probes.tasks.registry"}


def __getattr__(name: str) -> Any:
    """The public names above, imported when first asked for."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
