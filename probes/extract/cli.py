"""`probes extract`, `probes info` and `probes export`: the extraction stage on the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from probes.errors import ProbesError
from probes.extract.pooling import DEFAULT_POOLING, POOLINGS

# numpy, torch and the cache are imported inside the commands: `probes --help` must not load them.
if TYPE_CHECKING:
    from probes.extract.cache import VectorCache


def _layers(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--layers takes comma-separated layer numbers, got {text!r}") from None


def _device_map(text: str):
    from probes.extract.load_options import parse_device_map

    try:
        return parse_device_map(text)
    except ProbesError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--device-map: ")) from None


def register(subparsers) -> None:
    """Add the extract, info and export sub-commands."""
    p = subparsers.add_parser("extract", help="per-layer word vectors of a corpus into a cache directory",
                              description="Run a model over sentences and cache every layer's word vectors.")
    p.add_argument("--model", required=True, help="Hugging Face hub id, local model directory, or elmo:DIR")
    p.add_argument("--data", required=True, help="corpus: .conllu, .spacy, .txt or ud:NAME")
    p.add_argument("--out", required=True, help="cache directory to write (resumed if unfinished)")
    p.add_argument("--layers", type=_layers, default=None, help="layers to keep, e.g. 0,3,6 (default: all; 0 = embeddings)")
    p.add_argument("--pooling", choices=POOLINGS, default=DEFAULT_POOLING,
                   help=f"subwords -> word (default {DEFAULT_POOLING})")
    p.add_argument("--multiword", choices=("split", "token"), default="split",
                   help="words of a multiword token: split = each on its own characters where its form is found "
                        "there (don't = do + n't), else the token's vector; token = all on the token's vector")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per forward pass (default 32)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                   help="precision the weights are loaded and run in (default float32; bfloat16 halves the memory)")
    p.add_argument("--device-map", type=_device_map, default=None,
                   help="spread the model over devices with accelerate (probes[big]): auto, balanced, sequential, "
                        "a device, or a JSON object of module -> device, e.g. '{\"\": \"cuda:1\"}'")
    p.add_argument("--quantization", choices=("8bit", "4bit"), default=None,
                   help="load the weights in 8 or 4 bits with bitsandbytes (probes[quant]; CUDA GPUs only)")
    p.add_argument("--cache-dtype", choices=("float16", "float32"), default="float16", help="stored vectors (default float16)")
    p.add_argument("--random-init", action="store_true", help="same architecture with re-initialised weights (baseline)")
    p.add_argument("--seed", type=int, default=0, help="seed of --random-init (default 0)")
    p.add_argument("--trust-remote-code", action="store_true", help="allow a hub model's own code to run (off by default)")
    p.add_argument("--max-length", type=int, default=None,
                   help="subwords per window incl. special tokens (default: the model's maximum)")
    p.add_argument("--lang", default=None, help="language code of the corpus (for text and spaCy input)")
    p.add_argument("--sentencize", action="store_true", help="split raw text into sentences (spaCy)")
    p.add_argument("--spacy-model", default=None, help="spaCy pipeline for tokenising raw text")
    p.add_argument("--skip-invalid", action="store_true", help="skip malformed sentences (and say which) instead of stopping")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_extract)

    p = subparsers.add_parser("info", help="what a vector cache holds")
    p.add_argument("cache", metavar="DIR")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--verify", action="store_true",
                   help="check every layer against its checksum and for NaN/Inf (one read of the whole cache); "
                        "without it, sizes, headers, meta.json and the small files are checked")
    p.set_defaults(func=run_info)

    p = subparsers.add_parser("export", help="write a cache's vectors to one .npz file")
    p.add_argument("cache", metavar="DIR")
    p.add_argument("--out", required=True, help="the .npz file to write")
    p.set_defaults(func=run_export)


def run_extract(args) -> int:
    """probes extract."""
    from probes.encoders import check_model_dir
    from probes.extract.cache import refuse_foreign

    # The cheap checks first, before torch, the corpus and the model load: each names what is wrong.
    if not str(args.data).startswith("ud:") and not Path(args.data).exists():
        raise ProbesError(f"--data {args.data}: no such file")
    check_model_dir(args.model)
    try:
        refuse_foreign(args.out)
    except ProbesError as exc:
        raise ProbesError(f"--out {exc}") from None

    from probes.extract.extractor import extract
    from probes.readers import stream_corpus

    # Streamed: the corpus is read once to check and count it, once chunk by chunk to extract it.
    sentences = stream_corpus(args.data, lang=args.lang, sentencize=args.sentencize,
                              spacy_model=args.spacy_model, skip_invalid=args.skip_invalid)
    cache = extract(args.model, sentences, args.out, layers=args.layers, pooling=args.pooling,
                    batch_size=args.batch_size, device=args.device, dtype=args.dtype,
                    cache_dtype=args.cache_dtype, random_init=args.random_init, seed=args.seed,
                    trust_remote_code=args.trust_remote_code, max_length=args.max_length,
                    progress=not args.quiet, multiword=args.multiword, device_map=args.device_map,
                    quantization=args.quantization)
    if cache.summary is not None:
        for line in cache.summary.lines():
            print(line)
    print(f"cache: {args.out}")
    return 0


def cache_info(cache: VectorCache) -> dict:
    """The facts `probes info` shows about a cache."""
    import numpy as np

    meta = cache.meta
    summary = meta.get("summary") or {}
    return {
        "model": meta.get("model"),
        "layers": int(meta.get("num_model_layers", len(cache.layers))),
        "kept_layers": cache.layers,
        "dim": cache.dim,
        "sentences": cache.n_sentences,
        "words": cache.n_words,
        "pooling": meta.get("pooling"),
        "dtype": str(cache.vectors.dtype),
        "windowed": summary.get("windowed"),
        "missing_words": int(np.count_nonzero(cache.missing)),
        "key": meta.get("key"),
    }


def run_info(args) -> int:
    """probes info."""
    from probes.extract.cache import VectorCache

    cache = VectorCache.open(args.cache)
    if args.verify:
        cache.verify()
    info = cache_info(cache)
    info["integrity"] = ("verified: every layer matches its checksum, no NaN or Inf" if args.verify
                         else "quick check passed (sizes, headers, meta.json, offsets); --verify reads every layer")
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    width = max(len(k) for k in info)
    for k, v in info.items():
        if isinstance(v, list):
            v = ",".join(map(str, v))
        print(f"{k:<{width}}  {v}")
    return 0


def run_export(args) -> int:
    """probes export."""
    import numpy as np

    from probes.extract.cache import VectorCache

    cache = VectorCache.open(args.cache).verify()  # every layer is read anyway: export only what was written
    out = Path(args.out)
    if out.suffix != ".npz":
        raise ProbesError(f"--out {out}: the export file must end in .npz")
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"layer_{layer}": cache.layer(layer) for layer in cache.layers}
    arrays["sentence_offsets"] = np.asarray(cache.sentence_offsets, dtype=np.int64)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, out)
    print(f"wrote {out}: {len(cache.layers)} layers x {cache.n_words} words x {cache.dim} dims, "
          f"{cache.n_sentences} sentences", file=sys.stderr)
    return 0
