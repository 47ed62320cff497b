"""Sentence shards: pieces extracted apart (by parallel workers) join into the single-process cache,
and a worker killed in the middle of its shard costs only that shard on the re-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from probes.errors import ProbesError
from probes.extract.cache import VectorCache, read_meta
from probes.extract.extractor import extract
from probes.extract.shards import check_shard_size, extract_sharded, piece_path, pieces_dir, plan_shards
from probes.readers import load_corpus

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = load_corpus(ROOT / "data" / "sample" / "en.conllu")[:40]
OPTIONS = dict(batch_size=8, chunk_size=16, cache_dtype="float32", progress=False)
ARRAYS = ("vectors.npy", "offsets.npy", "missing.npy")


@pytest.fixture(scope="module")
def single(loaded, tmp_path_factory):
    """The cache one process writes for the 40 sentences."""
    return extract(loaded, SENTENCES, tmp_path_factory.mktemp("single") / "c", **OPTIONS)


def _same_cache(a: Path, b: Path) -> None:
    for name in ARRAYS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ma, mb = read_meta(a), read_meta(b)
    assert ma["key"] == mb["key"] and ma["integrity"]["layers_crc32"] == mb["integrity"]["layers_crc32"]


def test_plan_shards_cuts_on_chunk_boundaries():
    assert plan_shards(40, 16, 16) == [(0, 16), (16, 32), (32, 40)]
    assert plan_shards(40, 0, 16) == [(0, 40)] and plan_shards(16, 16, 16) == [(0, 16)]
    with pytest.raises(ProbesError, match="not a multiple of the extraction chunk"):
        plan_shards(40, 12, 16)
    assert "use 1024 or 2048" in check_shard_size(1500) and check_shard_size(-1) and check_shard_size(512) is None


def test_sharded_extraction_equals_the_unsharded_cache_array_for_array(loaded, single, tmp_path):
    out = tmp_path / "c"
    whole = extract_sharded(loaded, SENTENCES, out, shard_size=16, **OPTIONS)
    assert whole.shard_statuses == ["new", "new", "new"]
    _same_cache(out, single.path)
    assert not pieces_dir(out).exists()  # joined pieces are deleted
    assert whole.summary.sentences == 40 and whole.summary.words == single.summary.words
    # the same key: a single-process run finds the sharded cache complete, and the other way round
    assert extract(loaded, SENTENCES, out, **OPTIONS).summary.status == "complete"
    again = extract_sharded(loaded, SENTENCES, single.path, shard_size=16, **OPTIONS)
    assert again.shard_statuses == ["complete (whole cache)"] * 3
    VectorCache.open(out).verify()


# One shard's worker, as a Ray actor or a GPU's process runs it: its sentences into its own piece;
# argv[4] > 0 kills the process (SIGKILL) at that forward pass.
WORKER = """
import os, signal, sys, torch
from pathlib import Path
from probes.extract.extractor import extract
from probes.extract.loading import load_model
from probes.extract.shards import piece_path
from probes.readers import load_corpus
loaded = load_model(sys.argv[1], device=torch.device("cpu"))
a, b, kill_at = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
forward, calls = loaded.model.forward, []
def dying(*args, **kwargs):
    calls.append(1)
    if len(calls) == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return forward(*args, **kwargs)
loaded.model.forward = dying
sentences = load_corpus(Path(sys.argv[6]))[:40]
extract(loaded, sentences[a:b], piece_path(sys.argv[2], a, b), batch_size=8, chunk_size=16,
        cache_dtype="float32", progress=False)
"""


def test_a_killed_shard_is_the_only_one_extracted_again(bert, loaded, single, tmp_path):
    out = tmp_path / "c"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # three workers side by side; the second dies at its second batch (its first batch is on disk)
    procs = {(a, b): subprocess.Popen([sys.executable, "-c", WORKER, bert, str(out), str(a), str(b),
                                       str(2 if a == 16 else 0), str(ROOT / "data/sample/en.conllu")],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for a, b in plan_shards(40, 16, 16)}
    for (a, b), proc in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == (-signal.SIGKILL if a == 16 else 0), err.decode()[-2000:]
    assert not read_meta(piece_path(out, 16, 32))["complete"]
    assert np.load(piece_path(out, 16, 32) / "done.npy").sum() == 8  # one batch of 8 sentences survived

    forward, batches = loaded.model.forward, []

    def counting(*args, **kwargs):
        batches.append(kwargs.get("input_ids", args[0] if args else None).shape[0])
        return forward(*args, **kwargs)

    loaded.model.forward = counting
    try:
        whole = extract_sharded(loaded, SENTENCES, out, shard_size=16, **OPTIONS)
    finally:
        loaded.model.forward = forward
    assert whole.shard_statuses == ["complete", "resumed", "complete"]
    assert len(batches) == 1  # the killed shard's unfinished batch, nothing else
    assert whole.summary.status == "resumed" and whole.summary.resumed_from == 32
    _same_cache(out, single.path)
    assert not pieces_dir(out).exists()
