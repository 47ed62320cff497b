"""A local model folder that holds no model is refused in one sentence, naming a subfolder that does."""

from __future__ import annotations

import pytest

from probes.encoders import check_model_dir, models_below
from probes.errors import ProbesError

NEEDS = ("a Hugging Face model folder needs config.json, plus its weights (model.safetensors or pytorch_model.bin) "
         "and its tokenizer files (tokenizer.json, or the vocabulary files)")


def _model(folder, tokenizer: str | None = "tokenizer.json") -> None:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")
    if tokenizer:
        (folder / tokenizer).write_text("", encoding="utf-8")


def test_a_folder_with_config_json_or_elmo_files_passes(tmp_path):
    _model(tmp_path / "bert")
    check_model_dir(str(tmp_path / "bert"))
    (tmp_path / "elmo").mkdir()
    for name in ("elmo_2x1024_options.json", "elmo_2x1024_weights.hdf5"):
        (tmp_path / "elmo" / name).write_text("", encoding="utf-8")
    check_model_dir(str(tmp_path / "elmo"))
    check_model_dir("bert-base-cased")  # a hub id (no such folder here) is the loader's business
    check_model_dir(f"elmo:{tmp_path}")


@pytest.mark.parametrize("tokenizer", ["tokenizer.json", "tokenizer_config.json", "vocab.txt", "spiece.model",
                                       "sentencepiece.bpe.model", "vocab.json"])
def test_any_tokenizer_file_will_do(tmp_path, tokenizer):
    _model(tmp_path / "m", tokenizer)
    check_model_dir(str(tmp_path / "m"))


def test_config_json_without_tokenizer_files_is_refused_naming_them(tmp_path):
    # transformers would build a BertTokenizer of 5 special tokens from such a folder: every word [UNK]
    _model(tmp_path / "m", tokenizer=None)
    (tmp_path / "m" / "model.safetensors").write_text("", encoding="utf-8")
    with pytest.raises(ProbesError) as exc:
        check_model_dir(str(tmp_path / "m"))
    assert str(exc.value).startswith(f"model folder {tmp_path / 'm'} has config.json but no tokenizer files: it needs "
                                     "tokenizer.json, or tokenizer_config.json with the model's vocabulary")
    (tmp_path / "m" / "config.json").write_text('{"model_type": "transfo-xl"}', encoding="utf-8")
    check_model_dir(str(tmp_path / "m"))  # Transformer-XL: the suite's own reader, its vocabulary checked there


def test_an_empty_folder_says_what_a_model_folder_holds(tmp_path):
    with pytest.raises(ProbesError) as exc:
        check_model_dir(str(tmp_path))
    assert str(exc.value) == f"model folder {tmp_path} has no config.json: {NEEDS}"


def test_the_model_one_level_down_is_named(tmp_path):
    _model(tmp_path / "unpacked")
    (tmp_path / "README.md").write_text("weights inside", encoding="utf-8")
    with pytest.raises(ProbesError, match=f"; did you mean {tmp_path / 'unpacked'}\\?$"):
        check_model_dir(str(tmp_path))


def test_a_hub_cache_snapshot_two_levels_down_is_named(tmp_path):
    snapshot = tmp_path / "snapshots" / "0123abcd"
    _model(snapshot)
    (tmp_path / "refs").mkdir()
    with pytest.raises(ProbesError) as exc:
        check_model_dir(str(tmp_path))
    assert str(exc.value).endswith(f"; did you mean {snapshot}?")


def test_several_models_below_are_all_named(tmp_path):
    for name in ("base", "large"):
        _model(tmp_path / name)
    with pytest.raises(ProbesError) as exc:
        check_model_dir(str(tmp_path))
    assert str(exc.value).endswith(f"; did you mean one of its subfolders {tmp_path / 'base'}, {tmp_path / 'large'}?")


def test_the_search_stops_at_two_levels_and_at_the_nearest_level(tmp_path):
    _model(tmp_path / "a" / "b" / "c")  # three levels down: too far to be what was meant
    assert models_below(tmp_path) == []
    _model(tmp_path / "near")
    _model(tmp_path / "x" / "far")
    assert models_below(tmp_path) == [tmp_path / "near"]
