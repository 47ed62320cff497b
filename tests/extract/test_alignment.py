"""Word <-> subword alignment on hand-made offsets."""

import numpy as np

from probes.extract.alignment import align_subwords, missing_tokens, sentence_text
from probes.records import Sentence


def test_sentence_text_respects_space_after():
    st = sentence_text(Sentence(words=["do", "n't", "go", "."], space_after=[False, True, False, False]))
    assert st.text == "don't go."
    assert st.starts.tolist() == [0, 2, 6, 8] and st.ends.tolist() == [2, 5, 8, 9]


def test_chinese_has_no_spaces():
    st = sentence_text(Sentence(words=["我们", "喜欢"], space_after=[False, False]))
    assert st.text == "我们喜欢" and st.starts.tolist() == [0, 2]


def test_multiword_token_text_uses_surface_tokens():
    st = sentence_text(Sentence(words=["de", "el", "gato"], tokens=["del", "gato"], word_token=[0, 0, 1]))
    assert st.text == "del gato"


def test_pairs_wordpiece_and_leading_space_and_overlap():
    # "new york" with tokens [new][york]: subwords: "new"(0,3), " yo"(3,6) (leading space), "rk"(6,8),
    # a special (0,0), and a subword (2,5) straddling both words.
    starts, ends = np.array([0, 4]), np.array([3, 8])
    offsets = np.array([[0, 0], [0, 3], [3, 6], [6, 8], [2, 5]])
    sub, tok = align_subwords(offsets, starts, ends)
    assert list(zip(sub.tolist(), tok.tolist())) == [(1, 0), (4, 0), (2, 1), (3, 1), (4, 1)]


def test_space_only_subword_and_zero_width_token_match_nothing():
    # tokens: "a" (0,1), "" (2,2) zero-width, "b" (3,4); subwords: "a", lone "▁" over the space (1,2), "b"
    starts, ends = np.array([0, 2, 3]), np.array([1, 2, 4])
    sub, tok = align_subwords(np.array([[0, 1], [1, 2], [3, 4]]), starts, ends)
    assert list(zip(sub.tolist(), tok.tolist())) == [(0, 0), (2, 2)]
    assert missing_tokens(tok, 3).tolist() == [False, True, False]


def test_subword_covering_a_zero_width_token_does_not_claim_it():
    starts, ends = np.array([0, 1, 1]), np.array([1, 1, 3])  # "a", "", "bc" written together
    sub, tok = align_subwords(np.array([[0, 3]]), starts, ends)
    assert tok.tolist() == [0, 2]


def test_word_units_cut_a_multiword_token_its_words_spell_and_keep_the_others_whole():
    from probes.extract.alignment import sentence_text, word_units

    s = Sentence(words=["Do", "n't", "de", "el", "gon", "na", "zu", "dem", "cannot"],
                 tokens=["Don't", "del", "gonna", "zum", "cannot"], word_token=[0, 0, 1, 1, 2, 2, 3, 3, 4])
    text = sentence_text(s)
    u = word_units(s, text)
    pieces = [text.text[a:b] for a, b in zip(u.starts, u.ends)]
    assert pieces == ["Do", "n't", "del", "gon", "na", "zum", "cannot"]
    assert u.word_unit.tolist() == [0, 1, 2, 2, 3, 4, 5, 5, 6]
    assert (u.split, u.shared) == (4, 4)
    whole = word_units(s, text, "token")
    assert [text.text[a:b] for a, b in zip(whole.starts, whole.ends)] == ["Don't", "del", "gonna", "zum", "cannot"]
    assert (whole.split, whole.shared) == (0, 8)


def test_word_units_are_case_insensitive_and_need_the_whole_token():
    from probes.extract.alignment import sentence_text, word_units

    s = Sentence(words=["do", "N'T", "a", "l"], tokens=["DON'T", "all"], word_token=[0, 0, 1, 1])
    u = word_units(s, sentence_text(s))
    assert u.word_unit.tolist() == [0, 1, 2, 2]  # "a" + "l" does not spell "all": shared
    assert (u.split, u.shared) == (2, 2)
