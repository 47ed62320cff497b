"""Extraction on a GPU (issue 12): words/s against a bare bfloat16 forward pass, and a model over two devices.

For a lent GPU machine; runs unattended in a few minutes and exits with a clear message where
there is no CUDA device. Not run by pytest.

1. A random-init Llama-style model (``--layers`` x width ``--hidden``, ~1B parameters by default)
   is saved in bfloat16 and opened with ``load_model(dtype=bfloat16)`` on cuda:0.
2. The embedded sample corpus (``--copies`` copies of data/sample/*.conllu) is extracted, all
   layers, into a float16 cache: words/s, median of ``--repeats`` runs after one warm-up run.
   The warm-up run records every batch the extractor forms (its input tensors); the baseline
   is the bare forward pass of the model over exactly those batches (``output_hidden_states``
   off, nothing pooled or copied to the host), timed the same way. Target: extraction words/s
   at least 0.8x the bare pass's.
3. The same model dispatched with ``device_map`` over two devices: two GPUs when there are two
   ("balanced"), else the GPU and the CPU (the upper half of the layers on the CPU). Its vectors
   are compared with the one-GPU cache (bfloat16 rounding on two devices), and its words/s given.

Results are printed and, when $OUT is set, written to $OUT/gpu_extract.json.
Usage: python benchmarks/gpu_extract.py [--layers 16 --hidden 2048 --copies 20 --repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build_model(folder: Path, layers: int, hidden: int) -> int:
    """Save a random-init Llama-style model in bfloat16 with a small tokenizer; its parameter count."""
    import torch
    import transformers

    from tests.extract.tiny_models import build as build_tiny

    tiny = Path(build_tiny("llama", folder / "tiny"))
    config = transformers.LlamaConfig(vocab_size=32000, hidden_size=hidden, intermediate_size=int(hidden * 2.75),
                                      num_hidden_layers=layers, num_attention_heads=hidden // 128,
                                      num_key_value_heads=hidden // 128, max_position_embeddings=2048,
                                      pad_token_id=0, bos_token_id=2, eos_token_id=3)
    torch.manual_seed(0)
    with torch.device("cuda"):  # drawn on the GPU: seconds, where the CPU takes minutes
        model = transformers.LlamaModel._from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(folder)
    for f in tiny.iterdir():
        if "token" in f.name:
            shutil.copy(f, folder / f.name)
    return sum(p.numel() for p in model.parameters())


def corpus(copies: int):
    from probes.readers import load_corpus

    base = [s for lang in ("en", "de", "es") for s in load_corpus(ROOT / "data" / "sample" / f"{lang}.conllu")]
    return base * copies


def timed_extract(loaded, sentences, out: Path, batch_size: int) -> float:
    import torch

    from probes.extract.extractor import extract

    shutil.rmtree(out, ignore_errors=True)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    extract(loaded, sentences, out, batch_size=batch_size, progress=False)
    torch.cuda.synchronize()
    return time.perf_counter() - t0


def record_batches(loaded, sentences, out: Path, batch_size: int) -> tuple[float, list[dict]]:
    """One extraction (the warm-up) with every batch's model inputs recorded."""
    import probes.extract.extractor as ex

    seen: list[dict] = []
    real = ex._Run._inputs

    def recording(self, ids, mask, types):
        inputs = real(self, ids, mask, types)
        seen.append(inputs)
        return inputs

    ex._Run._inputs = recording
    try:
        seconds = timed_extract(loaded, sentences, out, batch_size)
    finally:
        ex._Run._inputs = real
    return seconds, seen


def bare_forward(model, batches: list[dict]) -> float:
    import torch

    torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.inference_mode():
        for inputs in batches:
            model(**inputs, output_hidden_states=False, return_dict=True)
    torch.cuda.synchronize()
    return time.perf_counter() - t0


def two_device_map(model, n_gpus: int):
    """balanced over two GPUs, else the embeddings and the lower half of the layers on cuda:0, the rest on the CPU."""
    if n_gpus >= 2:
        return "balanced"
    n = len(model.layers)
    placement = {"embed_tokens": 0, "rotary_emb": 0, "norm": "cpu"}
    placement.update({f"layers.{i}": 0 if i < n // 2 else "cpu" for i in range(n)})
    return placement


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--copies", type=int, default=20, help="copies of the sample corpus to extract")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--split-copies", type=int, default=2, help="copies extracted with the two-device map")
    args = ap.parse_args()

    import numpy as np
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("gpu_extract: no CUDA device here (torch.cuda.is_available() is False); this benchmark "
                         "measures GPU extraction and runs only where a GPU is")
    from probes.extract.cache import VectorCache
    from probes.extract.loading import load_model

    tmp = Path(tempfile.mkdtemp(prefix="probes-gpu-extract-"))
    os.environ.setdefault("PROBES_CACHE", str(tmp / "probes-cache"))
    result: dict = {"device": torch.cuda.get_device_name(0), "gpus": torch.cuda.device_count()}
    try:
        t0 = time.perf_counter()
        params = build_model(tmp / "model", args.layers, args.hidden)
        result["model"] = {"parameters": params, "layers": args.layers, "hidden": args.hidden,
                           "build_s": round(time.perf_counter() - t0, 1)}
        t0 = time.perf_counter()
        loaded = load_model(str(tmp / "model"), device=torch.device("cuda:0"), dtype=torch.bfloat16)
        result["load_s"] = round(time.perf_counter() - t0, 1)
        result["layers_read_from"] = loaded.hidden_states_from
        sentences = corpus(args.copies)
        words = sum(len(s) for s in sentences)
        result["words"], result["sentences"] = words, len(sentences)
        warm, batches = record_batches(loaded, sentences, tmp / "warm", args.batch_size)
        ext = [timed_extract(loaded, sentences, tmp / "c", args.batch_size) for _ in range(args.repeats)]
        bare_forward(loaded.model, batches[:5])  # warm-up
        bare = [bare_forward(loaded.model, batches) for _ in range(args.repeats)]
        e, b = statistics.median(ext), statistics.median(bare)
        result["extract"] = {"words_per_s": round(words / e), "seconds": [round(x, 2) for x in ext],
                             "warmup_s": round(warm, 2), "batches": len(batches)}
        result["bare_forward"] = {"words_per_s": round(words / b), "seconds": [round(x, 2) for x in bare]}
        result["ratio"] = round(b / e, 3)
        print(f"{result['device']}: {params / 1e9:.2f}B parameters, {words} words in {len(batches)} batches")
        print(f"extraction  {words / e:>9.0f} words/s (median of {args.repeats}: {', '.join(f'{x:.2f}' for x in ext)} s)")
        print(f"bare pass   {words / b:>9.0f} words/s (median of {args.repeats}: {', '.join(f'{x:.2f}' for x in bare)} s)")
        print(f"ratio {b / e:.2f} (target >= 0.8): {'met' if b / e >= 0.8 else 'NOT met'}")
        one_gpu = VectorCache.open(tmp / "c")

        try:
            import accelerate  # noqa: F401
        except ImportError:
            result["two_devices"] = "not run: accelerate is not installed (pip install 'probes[big]')"
            print(result["two_devices"])
        else:
            placement = two_device_map(loaded.model, torch.cuda.device_count())
            del loaded
            torch.cuda.empty_cache()
            t0 = time.perf_counter()
            split = load_model(str(tmp / "model"), device=torch.device("cuda:0"), dtype=torch.bfloat16,
                               device_map=placement)
            load_s = time.perf_counter() - t0
            part = corpus(args.split_copies)
            n = sum(len(s) for s in part)
            secs = timed_extract(split, part, tmp / "split", args.batch_size)
            cache = VectorCache.open(tmp / "split")
            devices = sorted(set(split.device_map.values()))
            errs = []
            for layer in cache.layers:
                ref = np.asarray(one_gpu.layer(layer)[:n], dtype=np.float64)
                got = np.asarray(cache.layer(layer), dtype=np.float64)
                errs.append(float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-12)))
            result["two_devices"] = {"devices": devices, "load_s": round(load_s, 1), "words": n,
                                     "words_per_s": round(n / secs), "max_relative_difference": max(errs),
                                     "per_layer_relative_difference": [round(x, 5) for x in errs]}
            print(f"device_map over {', '.join(devices)}: {n / secs:.0f} words/s on {n} words; vectors within "
                  f"{max(errs):.4f} (relative, max over layers) of the one-GPU cache")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "gpu_extract.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
