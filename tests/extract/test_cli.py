"""probes extract / info / export on the command line, and the offline hub message."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from probes import cli
from probes.errors import ProbesError
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


def _corpus(tmp_path):
    data = tmp_path / "corpus.txt"
    data.write_text("The fox jumps .\nTokenizers split rarely seen words\n", encoding="utf-8")
    return data


def test_a_model_folder_without_config_json_is_one_clear_error(tmp_path, capsys):
    parent = tmp_path / "download"
    (parent / "bert-tiny").mkdir(parents=True)
    (parent / "bert-tiny" / "config.json").write_text("{}", encoding="utf-8")
    out = tmp_path / "cache"
    assert cli.main(["extract", "--model", str(parent), "--data", str(_corpus(tmp_path)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (f"probes extract: error: model folder {parent} has no config.json: a Hugging Face model folder "
                   "needs config.json, plus its weights (model.safetensors or pytorch_model.bin) and its tokenizer "
                   f"files (tokenizer.json, or the vocabulary files); did you mean {parent / 'bert-tiny'}?\n")
    assert not out.exists()


def test_a_model_folder_without_weights_names_the_missing_file(tiny, tmp_path):
    folder = tmp_path / "no-weights"
    shutil.copytree(tiny("bert"), folder)
    for f in folder.iterdir():
        if f.suffix in (".safetensors", ".bin"):
            f.unlink()
    with pytest.raises(ProbesError) as exc:
        load_model(str(folder), device=torch.device("cpu"))
    assert str(exc.value).startswith(f"model folder {folder}: no file named model.safetensors")
    assert str(exc.value).endswith("; a Hugging Face model folder needs config.json, plus its weights "
                                   "(model.safetensors or pytorch_model.bin) and its tokenizer files (tokenizer.json, "
                                   "or the vocabulary files)")


def test_out_into_a_folder_that_is_not_a_cache_is_refused_writing_nothing(tiny, tmp_path, capsys):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "thesis.tex").write_text("\\documentclass{article}", encoding="utf-8")
    argv = ["extract", "--model", tiny("bert"), "--data", str(_corpus(tmp_path)), "--quiet"]
    assert cli.main(argv + ["--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"probes extract: error: --out {out} is not empty and is not a vector cache "
                                       "(it holds thesis.tex); give an empty or new directory\n")
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]
    # Someone else's meta.json does not make a folder a cache.
    (out / "meta.json").write_text('{"title": "my thesis"}', encoding="utf-8")
    assert cli.main(argv + ["--out", str(out)]) == 2
    assert "not a vector cache (it holds thesis.tex)" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["meta.json", "thesis.tex"]
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    assert cli.main(argv + ["--out", str(tmp_path / "a-file")]) == 2
    assert "a-file is a file, not a cache directory" in capsys.readouterr().err


def test_out_into_an_empty_folder_then_again_into_the_finished_cache(tiny, tmp_path, capsys):
    out = tmp_path / "empty"
    out.mkdir()
    argv = ["extract", "--model", tiny("bert"), "--data", str(_corpus(tmp_path)), "--out", str(out)]
    assert cli.main(argv) == 0
    first = capsys.readouterr()
    assert "resum" not in first.out + first.err and "found complete" not in first.out
    assert cli.main(argv) == 0
    again = capsys.readouterr()
    assert f"{out}: already extracted with these inputs; nothing to do" in again.err
    assert "found complete: nothing extracted now" in again.out
    assert "resum" not in again.out + again.err
