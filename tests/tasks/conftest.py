import pytest

from probes.records import Sentence, Span


def make(words, upos, heads, deprels, feats=None, sid="s", entities=None):
    return Sentence(words=list(words), upos=list(upos), heads=list(heads), deprels=list(deprels),
                    feats=feats if feats is not None else [{} for _ in words], sent_id=sid,
                    entities=entities)


@pytest.fixture
def dog():
    # The old dog barked loudly .   (dog <- barked root; The, old <- dog; loudly, . <- barked)
    return make(["The", "old", "dog", "barked", "loudly", "."],
                ["DET", "ADJ", "NOUN", "VERB", "ADV", "PUNCT"],
                [3, 3, 4, 0, 4, 4], ["det", "amod", "nsubj", "root", "advmod", "punct"],
                feats=[{"Definite": "Def"}, {"Degree": "Pos"}, {"Number": "Sing"},
                       {"Tense": "Past", "VerbForm": "Fin"}, {}, {}], sid="dog")


@pytest.fixture
def cats():
    # Cats have eaten fish   (eaten root; Cats nsubj, have aux, fish obj)
    return make(["Cats", "have", "eaten", "fish"], ["NOUN", "AUX", "VERB", "NOUN"],
                [3, 3, 0, 3], ["nsubj", "aux", "root", "obj"],
                feats=[{"Number": "Plur"}, {"Tense": "Pres", "VerbForm": "Fin"},
                       {"Tense": "Past", "VerbForm": "Part"}, {"Number": "Plur"}], sid="cats",
                entities=[Span(3, 4, "FOOD")])
