"""Profile of a whole `probes run`: seconds per stage, per probe job and inside each job per probe
kind and role (the task's own probe, its control task, the random-init twin; fitting vs scoring).
Not run by pytest.

Default study (issue 16): MiniLM on UD EWT, the first 1500 training sentences, EWT test, UPOS and
DEPREL, kinds linear + mix + cumulative, seeds 0 and 1, control task and random-init twin on,
from a cold cache (extraction included). ``--dev`` adds EWT dev for early stopping;
``--config FILE`` profiles any study config instead (its `source` must be loadable offline).
Target: the default study under 180 s end to end on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from probes.experiment import jobs as jobs_mod  # noqa: E402
from probes.experiment import runner as runner_mod  # noqa: E402
from probes.experiment.config import load_config  # noqa: E402
from probes.experiment.demo import minilm_path  # noqa: E402
from probes.probing import api  # noqa: E402

SPENT: dict[tuple, float] = defaultdict(float)
CALLS: dict[tuple, int] = defaultdict(int)
CURRENT = {"job": "-"}


def _role(model: str, task: str) -> str:
    if model.endswith(":random-init"):
        return "random-init"
    return "control" if task.endswith(":control") else "task"


def _wrap(module, name: str, label):
    """Replace module.name by a timed wrapper; label(args, kwargs) -> (kind, role, what)."""
    original = getattr(module, name)

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            key = (CURRENT["job"],) + label(args, kwargs)
            SPENT[key] += time.perf_counter() - t0
            CALLS[key] += 1

    setattr(module, name, timed)


def _install() -> None:
    # _classifier_rows(train, tests, dev, probe, seeds, model, task, ...): fits and scores one role
    _wrap(api, "_classifier_rows", lambda a, k: (a[3], _role(a[5], a[6]), "fit + score"))
    _wrap(api, "_rows_for", lambda a, k: (a[1], _role(a[5]["model"], a[5]["task"]), "  of which score"))
    _wrap(api, "majority_rows", lambda a, k: ("majority", "-", "fit + score"))
    _wrap(api, "fit_structural", lambda a, k: ("structural", "-", "fit"))
    _wrap(api, "structural_scores", lambda a, k: ("structural", "-", "score"))
    # A probe job runs jobs.run_probe_job(work, data) (looked up when the study builds its jobs)
    original_job = jobs_mod.run_probe_job

    def job(work, data):
        CURRENT["job"] = f"{work.common['model']}/{work.common['task']}/{work.kind}"
        t0 = time.perf_counter()
        try:
            return original_job(work, data)
        finally:
            SPENT[(CURRENT["job"], "job total", "", "")] += time.perf_counter() - t0
            CURRENT["job"] = "-"

    jobs_mod.run_probe_job = job


def default_config(work: Path, ud: Path, n_train: int, dev: bool) -> Path:
    dev_line = f'dev = "{ud / "en_ewt-ud-dev.conllu"}"\n' if dev else ""
    tasks = "".join(f"""
[[tasks]]
name = "{t}"
train = {{ path = "{ud / 'en_ewt-ud-train.conllu'}", max_sentences = {n_train}, name = "ewt-train" }}
{dev_line}test = [{{ path = "{ud / 'en_ewt-ud-test.conllu'}", name = "ewt-test" }}]
""" for t in ("upos", "deprel"))
    text = f"""name = "profile"
seeds = [0, 1]

[[models]]
name = "minilm"
source = "{minilm_path()}"
{tasks}
[probe]
kinds = ["linear", "mix", "cumulative"]
control = true
random_init = true
"""
    path = work / "study.toml"
    path.write_text(text)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="profile this study config instead of the default")
    ap.add_argument("--train", type=int, default=1500, help="training sentences of the default study")
    ap.add_argument("--dev", action="store_true", help="the default study with EWT dev")
    ap.add_argument("--cache-dir", help="reuse this cache (default: a fresh one, extraction included)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    ud = Path(os.environ.get("PROBES_UD", Path(__file__).resolve().parents[2] / "shared" / "data" / "ud"))
    work = Path(tempfile.mkdtemp(prefix="probes-profile-"))
    if args.config:
        cfg_path = Path(args.config)
    else:
        if not (ud / "en_ewt-ud-train.conllu").exists():
            print(f"UD EWT not found under {ud}; set PROBES_UD", file=sys.stderr)
            return 2
        cfg_path = default_config(work, ud, args.train, args.dev)
    cfg = load_config(cfg_path)
    _install()
    exp = runner_mod.Experiment(cfg, work / "out", cache_dir=Path(args.cache_dir) if args.cache_dir else work / "cache",
                                progress=False)
    t0 = time.perf_counter()
    exp.run()
    total = time.perf_counter() - t0
    print(f"\nstudy {cfg.name}: {total:.1f} s end to end (work dir {work})")
    for stage, s in exp.timer.seconds.items():
        print(f"  stage {stage:<10} {s:7.1f} s")
    jobs = sorted({k[0] for k in SPENT if k[0] != "-"})
    for j in jobs:
        print(f"  job {j}: {SPENT[(j, 'job total', '', '')]:.1f} s")
        for key in sorted(k for k in SPENT if k[0] == j and k[1] != "job total"):
            print(f"      {key[1]:<10} {key[2]:<12} {key[3]:<16} {SPENT[key]:7.1f} s  ({CALLS[key]} calls)")
    if not args.config:
        ok = total < 180
        print(f"target: under 180 s end to end -> {'PASS' if ok else 'FAIL'}")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
