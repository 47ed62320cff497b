from collections import Counter

import numpy as np

from probes.tasks import build_task
from probes.tasks.control import control_heads
from probes.tasks.sentence import make_bigram_shift
from probes.tasks.trees import tree_distances

from .conftest import make


def corpus(n, offset=0):
    """n small sentences over a vocabulary where 'the' and 'dog' recur."""
    out = []
    for i in range(n):
        w = ["the", "dog", f"w{(i + offset) % 7}", "runs", f"x{i + offset}", "."]
        out.append(make(w, ["DET", "NOUN", "ADJ", "VERB", "ADV", "PUNCT"], [2, 4, 2, 0, 4, 4],
                        ["det", "nsubj", "amod", "root", "advmod", "punct"], sid=f"s{i + offset}"))
    return out


def labels_by_type(task, sents):
    flat = [w for s in sents for w in s.words]
    seen = {}
    for r, c in zip(task.index, task.y):
        assert seen.setdefault(flat[r], c) == c  # one label per word type
    return seen


def test_token_control_is_deterministic_and_consistent_across_splits():
    train_s, dev_s = corpus(40), corpus(10, offset=100)
    real = build_task("upos", train_s)
    tr = build_task("upos:control", train_s, seed=3)
    tr2 = build_task("upos:control", train_s, seed=3)
    assert (tr.y == tr2.y).all() and tr.classes == real.classes
    assert (tr.index == real.index).all()
    assert np.allclose(tr.label_distribution, real.label_distribution)
    dv = build_task("upos:control", dev_s, train=tr, seed=3)
    a, b = labels_by_type(tr, train_s), labels_by_type(dv, dev_s)
    for w in set(a) & set(b):
        assert a[w] == b[w]
    assert set(b) - set(a)  # dev has types unseen in training, and they got labels too
    assert dv.unseen == 0 and (dv.y >= 0).all()
    other = build_task("upos:control", train_s, seed=4)
    many = [build_task("upos:control", train_s, seed=s).y for s in range(5)]
    assert any((m != many[0]).any() for m in many[1:]) and other.name == "upos:control"


def test_control_draws_follow_the_label_distribution():
    # 300 distinct types, label distribution 2/3 NOUN, 1/3 VERB
    sents = [make([f"n{i}", f"m{i}", f"v{i}"], ["NOUN", "NOUN", "VERB"], [0, 1, 1], ["root", "dep", "dep"])
             for i in range(100)]
    t = build_task("upos:control", sents, seed=0)
    share = Counter(t.classes[c] for c in t.y)["NOUN"] / len(t.y)
    assert 0.58 < share < 0.75


def test_dep_arc_control_attachments():
    sents = corpus(20)
    t = build_task("dep-arc:control", sents, seed=1)
    gold = build_task("dep-arc", sents)
    assert (t.pairs[:, 1] == gold.pairs[:, 1]).all()  # same dependents
    offsets = t.sentence_offsets
    behaviour = {}
    for (h, d) in t.pairs.tolist():
        i = int(np.searchsorted(offsets, d, side="right") - 1)
        a, b = offsets[i], offsets[i + 1] - 1
        kind = "self" if h == d else "first" if h == a else "last"
        assert h in (d, a, b)
        word = sents[i].words[d - a]
        assert behaviour.setdefault(word, kind) == kind
    # 'the', 'dog', 'runs' recur at the same positions of equal-length sentences: same control heads
    h0, h5 = control_heads(sents[0], 1), control_heads(sents[5], 1)
    assert [h0[k] for k in (0, 1, 3, 5)] == [h5[k] for k in (0, 1, 3, 5)]
    kinds = {tuple(control_heads(s, seed)[:2]) for seed in range(12) for s in sents[:1]}
    assert len(kinds) > 1  # the seed changes the attachments
    ev = build_task("dep-arc:control", corpus(5, offset=50), train=t, seed=1)
    assert ev.classes == t.classes and ev.unseen == 0


def test_bigram_shift_is_seeded_and_labels_travel_with_sentences(dog):
    sents = corpus(30)
    mod, labels = make_bigram_shift(sents, seed=7)
    mod2, labels2 = make_bigram_shift(sents, seed=7)
    assert labels == labels2 and [s.words for s in mod] == [s.words for s in mod2]
    assert Counter(labels) == {"I": 15, "O": 15}
    for orig, new, lab in zip(sents, mod, labels):
        diff = [j for j, (a, b) in enumerate(zip(orig.words, new.words)) if a != b]
        if lab == "O":
            assert diff == []
        else:
            assert len(diff) == 2 and diff[1] == diff[0] + 1
            j = diff[0]
            assert new.words[j] == orig.words[j + 1] and new.words[j + 1] == orig.words[j]
            assert "." not in (new.words[j], new.words[j + 1])
            # the same tree, with the words moved: distances between the moved words are kept
            perm = list(range(len(orig.words)))
            perm[j], perm[j + 1] = j + 1, j
            assert (tree_distances(new.heads) == tree_distances(orig.heads)[np.ix_(perm, perm)]).all()
        assert new.comments[-1] == f"bshift = {lab}"
    task = build_task("bshift", mod)
    assert [task.classes[c] for c in task.y] == labels
    assert sents[0].comments == []  # the input is not modified


def test_feature_control_keeps_the_feature_classes(dog, cats):
    real = build_task("feats:Number", [dog, cats])
    ctl = build_task("feats:Number:control", [dog, cats], seed=2)
    assert ctl.name == "feats:Number:control" and ctl.classes == real.classes == ["Plur", "Sing", "none"]
    assert (ctl.index == real.index).all()
    again = build_task("feats:Number:control", [cats], train=ctl, seed=2)
    assert again.y.tolist() == ctl.y[6:].tolist()  # cats' words get the labels they had in training
