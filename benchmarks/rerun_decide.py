"""How long a re-run of an unchanged study takes to decide that nothing changed (issue 12). Not run by pytest.

The model is the ~1B-parameter Llama-style model of benchmarks/big_model_memory.py (1.9 GB of
bfloat16 safetensors, built once into ``--dir``).

1. Fingerprint of the weight files: sha256 of their bytes (read from the page cache, as on a
   re-run; from disk it is slower), against the remembered fingerprint (``stat`` only), with the
   number of files the remembered path reads (must be 0). Medians of ``--repeats``.
2. A study with that model in bfloat16 (upos, linear probe, a slice of the sample corpus) is run
   once by ``probes run``; then ``--repeats`` more times, each in a fresh process. Quoted: the
   re-runs' extraction stage (``timings_s.extract`` of manifest.json: every cache found complete,
   no model loaded), and their whole wall time (interpreter start and imports included).
   Target: the extraction stage under 1 s.
Usage: python benchmarks/rerun_decide.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.big_model_memory import build  # noqa: E402

STUDY = """
name = "rerun"
[[models]]
name = "llama-1b"
source = "{model}"
dtype = "bfloat16"
layers = [0, 9, 18]
batch_size = 8

[[tasks]]
name = "upos"
train = {{ path = "{sample}/en.conllu", sentences = "1-20", name = "en-train" }}
test = [{{ path = "{sample}/en.conllu", sentences = "181-190", name = "en" }}]

[probe]
kinds = ["linear"]
control = false
random_init = false
bootstrap = 50
"""


def fingerprints(folder: Path, repeats: int) -> None:
    import probes.fingerprint as fp
    from probes.extract.loading import _loaded_weight_files

    files = [folder / "config.json", *_loaded_weight_files(folder)]
    size = sum(f.stat().st_size for f in files)
    memo = Path(tempfile.mkdtemp()) / fp.MEMO_FILE
    fp.sha256_files(files)  # into the page cache
    full = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fp.sha256_files(files)
        full.append(time.perf_counter() - t0)
    fp.remembered_sha256_files(files, memo)
    reads: list[str] = []
    real = fp._update
    fp._update = lambda h, p: (reads.append(str(p)), real(h, p))[1]
    remembered = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fp.remembered_sha256_files(files, memo)
        remembered.append(time.perf_counter() - t0)
    fp._update = real
    f, r = statistics.median(full), statistics.median(remembered)
    print(f"fingerprint of {size / 2**30:.2f} GiB of weights: sha256 of the bytes {f:.2f} s "
          f"({f / (size / 2**30):.2f} s/GiB, page cache); remembered {r * 1000:.2f} ms, {len(reads)} files read "
          f"(medians of {repeats})")


def run(config: Path, cache: Path, out: Path) -> tuple[float, dict]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", PROBES_CACHE=str(cache / "home"))
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "probes.cli", "run", str(config), "--cache-dir", str(cache),
                          "--out", str(out), "--quiet"], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"probes run failed:\n{res.stderr[-3000:]}")
    return wall, json.loads((out / "manifest.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/probes-llama-1b"))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    build(args.dir, 18)
    fingerprints(args.dir, args.repeats)
    work = Path(tempfile.mkdtemp(prefix="probes-rerun-"))
    config = work / "study.toml"
    config.write_text(STUDY.format(model=args.dir, sample=ROOT / "data" / "sample"), encoding="utf-8")
    wall, manifest = run(config, work / "cache", work / "out")
    print(f"first run: {wall:.1f} s, extraction stage {manifest['timings_s']['extract']:.1f} s, "
          f"{manifest['recomputed']['caches']} caches computed")
    walls, stages = [], []
    for i in range(args.repeats):
        wall, manifest = run(config, work / "cache", work / f"out{i}")
        if manifest["recomputed"]["caches"] != 0:
            raise SystemExit(f"re-run {i + 1} computed {manifest['recomputed']['caches']} caches: expected none")
        walls.append(wall)
        stages.append(manifest["timings_s"]["extract"])
    s = statistics.median(stages)
    print(f"re-runs (fresh processes, median of {args.repeats}): extraction stage {s:.3f} s "
          f"({', '.join(f'{x:.3f}' for x in stages)}), whole run {statistics.median(walls):.1f} s; "
          f"target < 1 s: {'met' if s < 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
