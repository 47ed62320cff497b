"""probes extract / info / export on the command line, and the offline hub message."""

from __future__ import annotations

import json

import numpy as np

from probes import cli
from probes.extract.cache import VectorCache
from probes.extract.loading import load_model


def test_extract_info_export(tiny, tmp_path, capsys):
    data = tmp_path / "corpus.txt"
    data.write_text("The fox jumps .\nTokenizers split rarely seen words\n", encoding="utf-8")
    out = tmp_path / "cache"
    assert cli.main(["extract", "--model", tiny("roberta"), "--data", str(data), "--out", str(out),
                     "--layers", "0,2", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "2 sentences, 9 words, 0 windowed" in printed

    assert cli.main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["model"] == tiny("roberta") and info["layers"] == 3 and info["kept_layers"] == [0, 2]
    assert (info["dim"], info["sentences"], info["words"]) == (32, 2, 9)
    assert cli.main(["info", str(out)]) == 0
    assert "words" in capsys.readouterr().out

    npz = tmp_path / "vectors.npz"
    assert cli.main(["export", str(out), "--out", str(npz)]) == 0
    cache = VectorCache.open(out)
    with np.load(npz, allow_pickle=False) as f:
        assert sorted(f.files) == ["layer_0", "layer_2", "sentence_offsets"]
        assert f["layer_2"].shape == (9, 32)
        np.testing.assert_array_equal(f["layer_2"], cache.layer(2))
        assert f["sentence_offsets"].tolist() == [0, 4, 9]


def test_cli_errors_are_one_line(tmp_path, capsys, monkeypatch):
    data = tmp_path / "corpus.txt"
    data.write_text("a b\n", encoding="utf-8")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert cli.main(["extract", "--model", "no-such-org/no-such-model", "--data", str(data),
                     "--out", str(tmp_path / "c"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "could not be fetched" in err and "pass its local directory" in err
    assert cli.main(["extract", "--model", str(tmp_path / "nope"), "--data", str(data),
                     "--out", str(tmp_path / "c")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["info", str(tmp_path)]) == 2
    assert "not a vector cache" in capsys.readouterr().err


def test_offline_hub_error_from_api(monkeypatch):
    import pytest
    import torch

    from probes.errors import ProbesError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ProbesError, match="could not be fetched from the Hugging Face hub"):
        load_model("no-such-org/no-such-model", device=torch.device("cpu"))
