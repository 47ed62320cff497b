"""`probes run --plan`: the jobs a study would run, which are cached, and the disk each cache takes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from probes.cli import main
from probes.experiment.config import load_config
from probes.experiment.plan import plan_study
from probes.experiment.runner import Experiment
from tests.experiment.test_runner_models import models, study  # noqa: F401  (the fixture and the config)


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


def test_plan_before_and_after_a_run(models, tmp_path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("PROBES_CACHE", str(tmp_path / "home-cache"))
    config = study(tmp_path, [models[0]], dtype="float32")
    cfg = load_config(config)
    exp = Experiment(cfg, tmp_path / "out", cache_dir=tmp_path / "cache", progress=False)
    exp.load_data()
    plan = plan_study(exp)
    assert files_under(tmp_path / "cache") == [] and not (tmp_path / "home-cache").exists()  # nothing written
    assert [c.status for c in plan.caches] == ["to extract", "to extract"]
    words = [sum(len(s) for s in ds.sentences) for ds in exp.datasets.values()]
    # two kept layers (layers = [0, 2]) of the tiny model's 32 dimensions, float16
    assert [c.disk_bytes for c in plan.caches] == [w * 2 * 32 * 2 for w in words]
    assert [p.status for p in plan.probes] == ["after extraction"]

    Experiment(cfg, tmp_path / "out", cache_dir=tmp_path / "cache", progress=False).run()
    exp = Experiment(cfg, tmp_path / "out", cache_dir=tmp_path / "cache", progress=False)
    exp.load_data()
    before = {p: os.stat(p).st_mtime_ns for p in (tmp_path / "cache").rglob("*")}
    plan = plan_study(exp)
    assert [c.status for c in plan.caches] == ["cached", "cached"]
    assert all(c.measured and c.disk_bytes == (c.path / "vectors.npy").stat().st_size for c in plan.caches)
    # the estimate is the array's bytes; the file adds its .npy header
    assert all(0 < c.disk_bytes - w * 2 * 32 * 2 <= 4096 for c, w in zip(plan.caches, words))
    assert [p.status for p in plan.probes] == ["cached"]
    assert {p: os.stat(p).st_mtime_ns for p in (tmp_path / "cache").rglob("*")} == before

    assert main(["run", str(config), "--plan", "--cache-dir", str(tmp_path / "cache"), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "2 cached, 0 to extract" in text and "1 cached" in text and "cached                   upos linear" in text


def test_plan_of_a_changed_model_says_only_loading_tells(models, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("PROBES_CACHE", str(tmp_path / "home-cache"))
    cfg = load_config(study(tmp_path, [models[0]], dtype="float32"))
    Experiment(cfg, tmp_path / "out", cache_dir=tmp_path / "cache", progress=False).run()
    (tmp_path / "home-cache" / "fingerprints.json").unlink()  # the fingerprints forgotten: the plan reads no weights
    exp = Experiment(cfg, tmp_path / "out", cache_dir=tmp_path / "cache", progress=False)
    exp.load_data()
    plan = plan_study(exp)
    assert [c.status for c in plan.caches] == ["complete, unverified"] * 2
    assert not (tmp_path / "home-cache" / "fingerprints.json").exists()
