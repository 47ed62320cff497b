"""Where a study writes: a new or empty folder, or the output of an earlier study (overwritten)."""

from __future__ import annotations

import json
from pathlib import Path

from probes.errors import ProbesError

# What every study output holds once written (probes.experiment.runner, analysis.report).
STUDY_FILES = ("manifest.json", "results.csv")


def is_study_output(path: Path) -> bool:
    """True when `path` holds what a study wrote: a manifest.json with its config, or a results.csv."""
    manifest = path / "manifest.json"
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and "config" in data:
            return True
    return (path / "results.csv").is_file()


def check_out_dir(path, option: str = "--out") -> None:
    """Refuse an output folder that exists, is not empty and is not an earlier study's output, before
    any work: a study writes results.csv, figures/, tables/ and report.html there, beside (and over)
    whatever else it holds."""
    path = Path(path)
    if not path.exists():
        return
    if not path.is_dir():
        raise ProbesError(f"{option} {path}: a file, not a folder; name a new or empty folder")
    try:
        entries = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())
    except OSError as exc:
        raise ProbesError(f"{option} {path}: cannot be read ({exc.strerror})") from None
    if not entries or is_study_output(path):
        return
    shown = ", ".join(entries[:4]) + (f" and {len(entries) - 4} more" if len(entries) > 4 else "")
    raise ProbesError(f"{option} {path}: the folder holds other files ({shown}) and is not a study's output "
                      f"(no {' or '.join(STUDY_FILES)}); a study would write its results among them. Name a new or "
                      "empty folder, or an earlier study's output to write it again")
