import pytest

from probes.errors import InputError, ProbesError
from probes.readers.text import read_text

spacy = pytest.importorskip("spacy")


def test_one_sentence_per_line_with_rule_based_tokenizer(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("I don't like it.\n\n  Dogs bark!  \n", encoding="utf-8")
    s1, s2 = read_text(p, lang="en")
    assert s1.words == ["I", "do", "n't", "like", "it", "."]
    assert s1.space_after == [True, False, True, True, False, False]
    assert (s1.sent_id, s2.sent_id) == ("1", "3")
    assert s2.words == ["Dogs", "bark", "!"] and s2.source.endswith("a.txt:3")
    assert s1.upos is None and s1.heads is None and s1.lang == "en"


def test_sentencize_paragraphs(tmp_path):
    p = tmp_path / "p.txt"
    p.write_text("The cat sat. It was\nhappy.\n\nA new paragraph here.\n", encoding="utf-8")
    sents = read_text(p, lang="en", sentencize=True)
    assert [s.words for s in sents] == [["The", "cat", "sat", "."], ["It", "was", "happy", "."],
                                         ["A", "new", "paragraph", "here", "."]]
    assert [s.sent_id for s in sents] == ["1-1", "1-2", "4"]


def test_silver_labels_from_a_named_pipeline(tmp_path):
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("attribute_ruler")
    ruler.add([[{"LOWER": "the"}]], {"POS": "DET", "TAG": "DT"})
    ruler.add([[{"LOWER": "cat"}]], {"POS": "NOUN", "TAG": "NN", "MORPH": "Number=Sing"})
    model_dir = tmp_path / "tiny_pipeline"
    nlp.to_disk(model_dir)
    p = tmp_path / "c.txt"
    p.write_text("the cat\n", encoding="utf-8")
    (s,) = read_text(p, lang="en", spacy_model=str(model_dir))
    assert s.upos == ["DET", "NOUN"] and s.xpos == ["DT", "NN"] and s.feats[1] == {"Number": "Sing"}


def test_missing_pipeline_says_how_to_install(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("x\n", encoding="utf-8")
    with pytest.raises(ProbesError, match="python -m spacy download en_core_web_sm"):
        read_text(p, spacy_model="en_core_web_sm")


def test_bad_bytes_and_empty(tmp_path):
    p = tmp_path / "b.txt"
    p.write_bytes(b"ok\nbad \xff\n")
    with pytest.raises(InputError, match="b.txt:2: bytes that are not valid UTF-8"):
        read_text(p, lang="en")
    p.write_text("\n \n")
    with pytest.raises(InputError, match="empty file"):
        read_text(p, lang="en")
