import io
import json
import urllib.error

import pytest

from probes.errors import InputError, ProbesError
from probes.readers import load_corpus, read_corpus
from probes.readers import ud_hub

GOOD = "# sent_id = a\n1\tDogs\tdog\tNOUN\t_\tNumber=Plur\t2\tnsubj\t_\t_\n2\tbark\tbark\tVERB\t_\t_\t0\troot\t_\t_\n\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PROBES_CACHE", str(tmp_path / "c"))
    return tmp_path / "c" / "ud" / ud_hub.UD_RELEASE


def test_spec_parsing():
    assert ud_hub.parse_spec("ud:en_ewt/dev") == ("en_ewt", "dev")
    assert ud_hub.parse_spec("ud:de_gsd") == ("de_gsd", None)
    with pytest.raises(ProbesError, match="unknown split"):
        ud_hub.parse_spec("ud:en_ewt/valid")
    assert ud_hub.url_of("en_ewt", "dev") == ("https://raw.githubusercontent.com/UniversalDependencies/"
                                              f"UD_English-EWT/{ud_hub.UD_RELEASE}/en_ewt-ud-dev.conllu")


def test_local_file_in_cache_is_used_and_checksummed(cache):
    cache.mkdir(parents=True)
    (cache / "en_ewt-ud-dev.conllu").write_text(GOOD, encoding="utf-8")
    sents = load_corpus("ud:en_ewt/dev")
    assert sents[0].words == ["Dogs", "bark"] and sents[0].lang == "en"
    sums = json.loads((cache / "checksums.json").read_text())
    assert len(sums["en_ewt-ud-dev.conllu"]) == 64
    (cache / "en_ewt-ud-dev.conllu").write_text(GOOD + GOOD, encoding="utf-8")
    with pytest.raises(ProbesError, match="differs from the one recorded"):
        load_corpus("ud:en_ewt/dev")


def test_offline_error_says_where_to_put_the_file(cache, monkeypatch):
    def refuse(*a, **k):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(ud_hub.urllib.request, "urlopen", refuse)
    with pytest.raises(ProbesError) as exc:
        load_corpus("ud:de_gsd/test")
    msg = str(exc.value)
    assert "UD_German-GSD" in msg and str(cache / "de_gsd-ud-test.conllu") in msg
    assert not list(cache.glob("*.part"))


def test_download_once(cache, monkeypatch):
    calls = []

    def fake(url, timeout):
        calls.append(url)
        return io.BytesIO(GOOD.encode())
    monkeypatch.setattr(ud_hub.urllib.request, "urlopen", fake)
    assert len(load_corpus("ud:en_pud")) == 1  # PUD: test split by default
    assert len(load_corpus("ud:en_pud/test")) == 1
    assert calls == [ud_hub.url_of("en_pud", "test")]


def test_unknown_treebank_and_missing_split(cache):
    with pytest.raises(ProbesError, match="not in the catalogue.*put its CoNLL-U file at"):
        load_corpus("ud:xx_nothing")
    with pytest.raises(ProbesError, match="has no dev split"):
        load_corpus("ud:en_pud/dev")


def test_dispatch_by_suffix(tmp_path, capsys):
    with pytest.raises(ProbesError, match=r"unknown corpus format '.csv'"):
        load_corpus(tmp_path / "a.csv")
    p = tmp_path / "a.conllu"
    p.write_text(GOOD + "1\tx\tx\tX\t_\t_\t3\tdep\t_\t_\n", encoding="utf-8")
    with pytest.raises(InputError):
        load_corpus(p)
    rep = read_corpus(p, skip_invalid=True)
    assert len(rep.sentences) == 1 and len(rep.skipped) == 1 and rep.skipped[0].line == 5
    assert len(load_corpus(p, skip_invalid=True)) == 1
    assert "skipped 1 invalid" in capsys.readouterr().err
    t = tmp_path / "a.txt"
    t.write_text("Hello there.\n", encoding="utf-8")
    assert load_corpus(t, lang="en")[0].words == ["Hello", "there", "."]
