"""The family table and `probes models`; each word-level family encodes a short corpus end to end."""

import json
import os

import pytest

from probes import cli
from probes.encoders import open_word_encoder
from probes.encoders.families import FAMILIES, NO_POOLING, family_of

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
CORPUS = [["The", "cat", "sat", "on", "the", "mat", "."], ["It", "ran", "away", "!"], ["Naïve"]]


def test_table_covers_the_field():
    names = {f.name for f in FAMILIES}
    for wanted in ("BERT", "ERNIE", "GPT (openai-gpt)", "GPT-2", "XLNet", "RoBERTa", "DeBERTa-v2/v3", "ELECTRA",
                   "ALBERT", "T5 encoder", "Llama-style decoders", "ELMo", "Transformer-XL"):
        assert wanted in names
    assert family_of("gpt2").name == "GPT-2" and family_of("transfo-xl").name == "Transformer-XL"
    assert family_of("no-such-type") is None
    for f in FAMILIES:
        assert all((f.example, f.loader, f.tokenizer, f.pooling, f.layers))
        assert (f.pooling == NO_POOLING) == (f.name in ("ELMo", "Transformer-XL"))


def test_probes_models_command(capsys):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    assert "Transformer-XL" in out and "restricted unpickler" in out and "</w>" in out and "mean" in out
    assert cli.main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(FAMILIES) and rows[-2]["name"] == "ELMo"


@pytest.mark.parametrize("spec,layers,dim", [("elmo_a", 3, 12), ("transfo_xl_a", 3, 16), ("transfo_xl_b", 4, 12)])
def test_word_level_family_encodes_a_short_corpus(spec, layers, dim):
    enc = open_word_encoder(os.path.join(FIXTURES, spec))
    assert (enc.num_layers, enc.dim) == (layers, dim) and len(enc.fingerprint) == 64
    out = enc.to("cpu").encode(CORPUS)
    assert [tuple(o.shape) for o in out] == [(layers, len(s), dim) for s in CORPUS]
    assert all(bool(o.isfinite().all()) for o in out)


def test_encoders_are_named_by_their_spec():
    spec = os.path.join(FIXTURES, "elmo_a")
    assert open_word_encoder(spec + "/").name == spec
    assert open_word_encoder("transfo-xl:" + os.path.join(FIXTURES, "transfo_xl_a")).name.startswith("transfo-xl:")
    assert open_word_encoder(spec, random_init=True).name == spec + ":random-init"
