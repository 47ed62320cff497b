"""Peak host memory of loading a ~1B-parameter Llama-style model (issue 12). Not run by pytest.

A random-init Llama-style model is built from a config (``--layers`` decoder layers of width 2048,
~1B parameters at the default 18), saved in bfloat16 with safetensors (as released checkpoints
are) with a small tokenizer, once, to ``--dir``. Each load then runs in its own fresh process,
which reports its resident memory before the load (torch and transformers imported) and its peak
(``ru_maxrss``) after ``probes.extract.loading.load_model`` returned:

  before   the code before issue 12: ``from_pretrained`` then ``.to(float32)`` (re-enacted here)
  float32  ``load_model(dtype=float32)``: weights read as float32
  bfloat16 ``load_model(dtype=bfloat16)``: weights read as bfloat16, low_cpu_mem_usage

Target: the bfloat16 load's peak increase at most 1.2x the bfloat16 weight bytes. Several repeats
each (``--repeats``), medians quoted. Usage: python benchmarks/big_model_memory.py [--layers 18]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, resource, sys, time
import torch, transformers
from probes.extract.loading import load_model

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

path, mode = sys.argv[1], sys.argv[2]
before = rss_mb()
t0 = time.perf_counter()
if mode == "before":  # the loading lines of the code before issue 12
    model = transformers.AutoModel.from_pretrained(path)
    model = model.to(device=torch.device("cpu"), dtype=torch.float32).eval()
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
else:
    loaded = load_model(path, device=torch.device("cpu"), dtype=getattr(torch, mode))
    weights = sum(p.numel() * p.element_size() for p in loaded.model.parameters())
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"before_mb": before, "peak_mb": peak, "weights_mb": weights / 2**20, "seconds": seconds}))
"""


def build(folder: Path, layers: int) -> int:
    """Save a random-init Llama-style model of `layers` layers in bfloat16, with a tiny tokenizer; its parameter count."""
    import torch
    import transformers

    from tests.extract.tiny_models import build as build_tiny

    if (folder / "config.json").is_file():
        return json.loads((folder / "params.json").read_text())["params"]
    folder.mkdir(parents=True, exist_ok=True)
    tiny = Path(build_tiny("llama", folder / "tiny"))
    config = transformers.LlamaConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632,
                                      num_hidden_layers=layers, num_attention_heads=16, num_key_value_heads=16,
                                      max_position_embeddings=2048, pad_token_id=0, bos_token_id=2, eos_token_id=3)
    torch.manual_seed(0)
    model = transformers.LlamaModel._from_config(config, dtype=torch.bfloat16)
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(folder)
    for f in tiny.iterdir():  # the tiny model's tokenizer: its ids are all below the vocabulary size
        if "token" in f.name:
            (folder / f.name).write_bytes(f.read_bytes())
    (folder / "params.json").write_text(json.dumps({"params": params}))
    return params


def measure(folder: Path, mode: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="2", HF_HUB_OFFLINE="1",
               PROBES_CACHE=str(folder / "probes-cache"))
    res = subprocess.run([sys.executable, "-c", CHILD, str(folder), mode], env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{mode} load failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/probes-llama-1b"))
    ap.add_argument("--layers", type=int, default=18)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    params = build(args.dir, args.layers)
    bf16_bytes = sum(f.stat().st_size for f in args.dir.glob("*.safetensors"))
    print(f"model: {params / 1e9:.3f}B parameters, bfloat16 safetensors {bf16_bytes / 2**20:.0f} MiB, {args.dir}")
    runs: dict[str, list[dict]] = {m: [] for m in ("before", "float32", "bfloat16")}
    for _ in range(args.repeats):
        for mode in runs:  # interleaved, so that a busy moment of the machine hits every mode alike
            runs[mode].append(measure(args.dir, mode))
    print(f"{'load':<9} {'peak MiB':>9} {'increase MiB':>13} {'increase / bf16 bytes':>22} {'seconds':>8}  "
          f"(medians of {args.repeats} fresh processes)")
    for mode, rs in runs.items():
        peak = statistics.median(r["peak_mb"] for r in rs)
        inc = statistics.median(r["peak_mb"] - r["before_mb"] for r in rs)
        secs = statistics.median(r["seconds"] for r in rs)
        print(f"{mode:<9} {peak:>9.0f} {inc:>13.0f} {inc * 2**20 / bf16_bytes:>22.2f} {secs:>8.1f}")
    inc = statistics.median(r["peak_mb"] - r["before_mb"] for r in runs["bfloat16"])
    ratio = inc * 2**20 / bf16_bytes
    print(f"target: bfloat16 increase <= 1.2x the bfloat16 weight bytes: {ratio:.2f}x "
          f"{'met' if ratio <= 1.2 else 'NOT met'}")


if __name__ == "__main__":
    main()
