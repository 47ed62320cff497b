"""The probing task catalogue: labels, edges, tree distances and sentence labels built from a corpus."""

from probes.tasks.base import TaskData
from probes.tasks.registry import TaskSpec, build_task, get_spec, list_tasks

__all__ = ["TaskData", "TaskSpec", "build_task", "get_spec", "list_tasks"]
