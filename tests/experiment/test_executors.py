"""Every executor gives the local executor's results row for row: Ray on a local 2-CPU cluster, the
one-process-per-device pool, and a study whose data sets are extracted in sentence shards."""

from __future__ import annotations

import os
import shutil
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from probes.cli import main
from probes.errors import ProbesError
from probes.experiment.config import load_config
from probes.experiment.executors import job_threads, LocalExecutor, make_executor
from probes.experiment.runner import Experiment
from tests.experiment.test_runner import tiny_model, write_study  # noqa: F401  (tiny_model is a fixture)

KEYS = ["model", "task", "probe", "metric", "layer", "seed", "train_set", "eval_set"]


def _study(tmp_path: Path, model: Path) -> Path:
    """The tiny study (upos + distance, control task, random-init twin) with the linear probe only."""
    config = write_study(tmp_path, model)
    config.write_text(config.read_text(encoding="utf-8").replace('kinds = ["linear", "cumulative"]',
                                                                 'kinds = ["linear"]'), encoding="utf-8")
    return config


def _results(config: Path, out: Path, cache: Path, **kwargs) -> pd.DataFrame:
    outcome = Experiment(load_config(config), out, cache_dir=cache, progress=False, **kwargs).run()
    return outcome, pd.read_csv(out / "results.csv").sort_values(KEYS).reset_index(drop=True)


@pytest.fixture(scope="module")
def local(tmp_path_factory, tiny_model):  # noqa: F811
    tmp = tmp_path_factory.mktemp("local")
    config = _study(tmp, tiny_model)
    outcome, results = _results(config, tmp / "out", tmp / "cache")
    assert outcome.extracted == 6 and len(results) > 100
    return config, results


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert len(a) == len(b)
    pd.testing.assert_frame_equal(a[KEYS], b[KEYS])
    for col in ("value", "ci_low", "ci_high"):
        np.testing.assert_allclose(a[col].to_numpy(float), b[col].to_numpy(float), rtol=0, atol=1e-9, err_msg=col)


def test_a_sharded_study_gives_the_unsharded_results(local, tmp_path):
    config, results = local
    # 40 training sentences in shards of 16 (three shards), the 20-sentence test sets in two
    outcome, sharded = _results(config, tmp_path / "out", tmp_path / "cache", shard_sentences=16)
    assert outcome.shards == 2 * (3 + 2 + 2)  # (model, twin) x shards of (train, en, de)
    _same(sharded, results)
    assert not list((tmp_path / "cache" / "vectors").glob("*.pieces"))
    # a run stopped after sealing the whole cache, while it deleted the pieces: the next run finds
    # the whole and deletes what is left (a copy of the whole, which stayed on disk for good)
    whole = next(p for p in (tmp_path / "cache" / "vectors").iterdir() if "random-init" not in p.name)
    left = whole.with_name(whole.name + ".pieces") / "sentences-000000017-000000032"
    shutil.copytree(whole, left)
    again, _ = _results(config, tmp_path / "out2", tmp_path / "cache", shard_sentences=16)
    assert (again.extracted, again.shards) == (0, 0) and not left.parent.exists()
    # and an unsharded run that finds (or makes) the whole cache deletes them too
    shutil.copytree(whole, left)
    unsharded, _ = _results(config, tmp_path / "out3", tmp_path / "cache", shard_sentences=0)
    assert unsharded.extracted == 0 and not left.parent.exists()


class _Recording(LocalExecutor):
    """The local executor, noting where each job ran (JobResult.worker) and whether it extracted."""

    workers: list

    def map(self, jobs, progress):
        done = super().map(jobs, progress)
        self.workers = getattr(self, "workers", []) + [(r.worker, j.extraction) for r, j in zip(done, jobs)]
        return done


def test_one_extraction_process_per_device_gives_the_same_results(local, tmp_path):
    config, results = local
    # Two "devices" on a CPU-only machine: each extraction process sees CUDA_VISIBLE_DEVICES=0 or 1
    # and no CUDA, so this runs the multi-GPU path (spawned processes, shards by default) on the CPU.
    executor = _Recording(["0", "1"])
    outcome, pooled = _results(config, tmp_path / "out", tmp_path / "cache", executor=executor, shard_sentences=16)
    assert outcome.shards == 14
    _same(pooled, results)
    # the extraction jobs ran in the two device processes (not here), the probe jobs here
    extraction = [w for w, extracting in executor.workers if extracting]
    assert {re.search(r"CUDA_VISIBLE_DEVICES=(\w+)", w).group(1) for w in extraction} == {"0", "1"}
    assert len(extraction) == 14 and all(w.endswith(f", {job_threads()} threads") for w in extraction)
    assert f"pid {os.getpid()}" not in {w.split(",")[0] for w in extraction}
    assert {w for w, extracting in executor.workers if not extracting} == {f"pid {os.getpid()}"}


def test_ray_on_a_local_two_cpu_cluster_gives_the_local_results(local, tmp_path):
    ray = pytest.importorskip("ray")
    config, results = local
    ray.init(num_cpus=2, include_dashboard=False, logging_level="error")
    try:
        executor = make_executor("ray")
        assert (executor.cpus, executor.gpus) == (2, 0)
        workers, run_jobs = [], executor.map

        def recording(jobs, progress):
            done = run_jobs(jobs, progress)
            workers.extend(r.worker for r in done)
            return done

        executor.map = recording
        outcome, on_ray = _results(config, tmp_path / "out", tmp_path / "cache", executor=executor,
                                   shard_sentences=16)
        # every job (14 shard extractions, 2 probe jobs) ran in a Ray worker process, not here
        assert len(workers) == 16 and all(w.startswith("pid ") for w in workers)
        # with this process's thread count, not Ray's one per granted CPU: the sums round as here
        assert all(w.endswith(f", {min(job_threads(), 2)} threads") for w in workers)
        assert f"pid {os.getpid()}" not in {w.split(",")[0] for w in workers}
        executor.close()  # joined, not started, by the executor: the cluster stays up
        assert ray.is_initialized()
    finally:
        ray.shutdown()
    assert outcome.shards == 14 and outcome.probed == 2
    _same(on_ray, results)


def test_executor_ray_without_ray_says_how_to_install_it(local, tmp_path, monkeypatch, capsys):
    config, _ = local
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--executor", "ray", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--executor ray needs Ray, which is not installed: pip install 'probes[ray]'" in err
    assert not (tmp_path / "out").exists()


def test_executor_options_are_checked():
    with pytest.raises(ProbesError, match="unknown executor 'slurm'"):
        make_executor("slurm")
    with pytest.raises(ProbesError, match="--address names a Ray cluster"):
        make_executor("local", address="ray://head:10001")
    assert make_executor("local", device="cpu").devices == []


def test_shard_size_is_checked_with_the_config(local, tmp_path, capsys):
    config, _ = local
    bad = tmp_path / "bad.toml"
    bad.write_text("shard_sentences = 1500\n" + config.read_text(encoding="utf-8").replace(
        'path = "data/', f'path = "{config.parent}/data/'), encoding="utf-8")
    with pytest.raises(ProbesError, match=r"shard_sentences.*use 1024 or 2048"):
        load_config(bad)
    assert main(["run", str(config), "--out", str(tmp_path / "o"), "--shard-sentences", "1500"]) == 2
    # and by the plan, though no data set of this study is long enough to be cut (it said nothing)
    assert main(["run", str(config), "--plan", "--shard-sentences", "1500"]) == 2
    assert "--shard-sentences: 1500 is above 1024" in capsys.readouterr().err


def test_a_cluster_address_nobody_answers_is_refused_at_once(local, tmp_path, capsys):
    pytest.importorskip("ray")
    import socket
    import time

    config, _ = local
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--executor", "ray",
                 "--address", f"127.0.0.1:{port}", "--no-progress"]) == 2
    assert time.perf_counter() - t0 < 30
    err = capsys.readouterr().err
    assert f"--address 127.0.0.1:{port}: nothing answers at 127.0.0.1:{port}" in err and "ray start --head" in err
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--executor", "ray", "--address", "head"]) == 2
    assert "expected HOST:PORT" in capsys.readouterr().err


def test_job_paths_are_absolute_for_workers_in_other_directories(local, tmp_path, monkeypatch):
    config, _ = local
    monkeypatch.chdir(tmp_path)
    exp = Experiment(load_config(config), Path("out"), cache_dir=Path("cache"), progress=False)
    assert exp.cache == tmp_path / "cache"


def test_extraction_processes_see_the_devices_this_process_was_given(monkeypatch):
    import probes.experiment.executors as executors

    monkeypatch.setattr(executors, "cuda_device_count", lambda: 2)
    # CUDA_VISIBLE_DEVICES=2,3: this process's cuda:0 and cuda:1 are physical devices 2 and 3, and
    # each child's CUDA_VISIBLE_DEVICES must name those, not 0 and 1 (devices outside the set)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert make_executor("local", device="auto").devices == ["2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-aaaa, GPU-bbbb")
    assert make_executor("local", device="cuda").devices == ["GPU-aaaa", "GPU-bbbb"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert make_executor("local", device="auto").devices == ["0", "1"]
    assert make_executor("local", device="cuda:1").devices == []


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="error")
    yield ray
    ray.shutdown()


def test_a_ray_task_whose_worker_dies_stops_the_run_with_one_line(ray_cluster):
    import os

    from probes.experiment.executors import Job
    from probes.progress import Progress

    executor = make_executor("ray")
    # the probe job's process exits (as when the kernel's OOM killer ends it): Ray retries it,
    # then gives up with a WorkerCrashedError, which was raised as it is (a traceback)
    with pytest.raises(ProbesError, match=r"the Ray worker running upos linear died .* resumes from it"):
        executor.map([Job("upos linear", lambda: os._exit(1), ())], Progress(enabled=False))


def _marked(folder: Path, k: int, fail: bool = False):
    """A job that leaves a file saying it started, then fails at once or finishes a second later."""
    import time

    from probes.experiment.executors import JobResult

    def job():
        (folder / f"started-{k}").touch()
        if fail:
            raise ProbesError(f"job {k} failed")
        time.sleep(1.0)
        return JobResult(k)

    return job


def test_after_a_failed_ray_task_no_new_one_starts(ray_cluster, tmp_path):
    from probes.experiment.executors import Job
    from probes.progress import Progress

    executor = make_executor("ray")
    jobs = [Job(f"job {k}", _marked(tmp_path, k, fail=k == 0), ()) for k in range(5)]
    with pytest.raises(ProbesError, match="job 0 failed"):
        executor.map(jobs, Progress(enabled=False))
    # two CPUs hold two slots of one thread each, or one of two threads (each job gets this process's
    # thread count): those started, were let finish, and no later job was started (all five ran
    # before the failure was raised when every job was submitted at once)
    slots = max(1, executor.cpus // executor.threads)
    assert sorted(f.name for f in tmp_path.iterdir()) == [f"started-{k}" for k in range(slots)] and slots < 5
    ok = executor.map([Job(f"job {k}", _marked(tmp_path, k), ()) for k in range(5, 8)], Progress(enabled=False))
    assert [r.value for r in ok] == [5, 6, 7]



def test_a_model_placed_with_a_device_map_is_extracted_in_the_study_process(local, tmp_path):
    pytest.importorskip("accelerate")
    config, _ = local
    placed = tmp_path / "study.toml"
    text = config.read_text(encoding="utf-8").replace('data/', f'{config.parent}/data/')
    placed.write_text(text.replace('name = "tiny"\nsource', 'name = "tiny"\ndevice_map = "cpu"\nsource', 1),
                      encoding="utf-8")
    assert load_config(placed).models[0].device_map == "cpu"
    executor = _Recording(["0", "1"])
    _results(placed, tmp_path / "out", tmp_path / "cache", executor=executor)
    # its device map spans what this process sees: no one-device worker loads it
    assert {w.split(",")[0] for w, extracting in executor.workers} == {f"pid {os.getpid()}"}


def test_plan_follows_the_executor_without_joining_a_cluster(local, tmp_path, monkeypatch, capsys):
    import probes.extract.shards as shards

    config, _ = local
    seen = []
    real = Experiment.__init__

    def noting(self, *args, **kwargs):
        real(self, *args, **kwargs)
        seen.append(self.shard_sentences)

    monkeypatch.setattr(Experiment, "__init__", noting)
    monkeypatch.setattr(shards, "DEFAULT_SHARD", 16)
    base = ["run", str(config), "--plan", "--cache-dir", str(tmp_path / "cache")]
    # nothing listens there: a dry run does not connect, and plans Ray's default shards
    assert main(base + ["--executor", "ray", "--address", "127.0.0.1:1"]) == 0
    assert main(base) == 0
    assert seen == [16, 0]
    assert main(base + ["--address", "127.0.0.1:1"]) == 2
    assert "--address names a Ray cluster: it goes with --executor ray" in capsys.readouterr().err
