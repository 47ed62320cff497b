import pytest

from probes import cli
from probes.errors import InputError


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert "probes" in capsys.readouterr().out


def test_input_error_names_file_line_and_sentence():
    err = InputError("wrong column count (9, expected 10)", path="a.conllu", line=12, sent_id="s3")
    assert str(err) == "a.conllu:12 (sentence s3): wrong column count (9, expected 10)"
