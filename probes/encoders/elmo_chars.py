"""ELMo's character ids: UTF-8 bytes with begin/end-of-word markers, as the original biLM reads words.

Ids 0-255 are UTF-8 bytes; 256-260 mark the sentence begin/end tokens (`<S>`, `</S>`), the word
begin/end and the padding inside a word. Every id is shifted by +1 so that 0 means "no word" (the
padding of a batch, masked out). Words longer than `max_chars - 2` bytes are cut to that many bytes,
as the original does; the word still gets its vector.
"""

from __future__ import annotations

import torch

MAX_CHARS = 50
BOS_CHAR, EOS_CHAR, BOW_CHAR, EOW_CHAR, PAD_CHAR = 256, 257, 258, 259, 260
BOS_TOKEN, EOS_TOKEN = "<S>", "</S>"
N_CHAR_SYMBOLS = 261


def _marker_ids(char: int, max_chars: int) -> list[int]:
    ids = [PAD_CHAR] * max_chars
    ids[0], ids[1], ids[2] = BOW_CHAR, char, EOW_CHAR
    return [c + 1 for c in ids]


def word_char_ids(word: str, max_chars: int = MAX_CHARS) -> list[int]:
    """The `max_chars` character ids of one word (already shifted by +1; 0 is reserved for masking)."""
    if word == BOS_TOKEN:
        return _marker_ids(BOS_CHAR, max_chars)
    if word == EOS_TOKEN:
        return _marker_ids(EOS_CHAR, max_chars)
    encoded = word.encode("utf-8", "ignore")[: max_chars - 2]
    ids = [PAD_CHAR] * max_chars
    ids[0] = BOW_CHAR
    ids[1:len(encoded) + 1] = list(encoded)
    ids[len(encoded) + 1] = EOW_CHAR
    return [c + 1 for c in ids]


def batch_char_ids(batch: list[list[str]], max_chars: int = MAX_CHARS,
                   add_boundaries: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Character ids (batch, longest + 2, max_chars) with <S> ... </S> around each sentence, and the mask.

    Shorter sentences are right-padded with all-zero rows, which the mask marks False.
    """
    extra = 2 if add_boundaries else 0
    longest = max((len(s) for s in batch), default=0) + extra
    ids = torch.zeros(len(batch), longest, max_chars, dtype=torch.long)
    mask = torch.zeros(len(batch), longest, dtype=torch.bool)
    for b, words in enumerate(batch):
        seq = [BOS_TOKEN, *words, EOS_TOKEN] if add_boundaries else list(words)
        if seq:
            ids[b, : len(seq)] = torch.tensor([word_char_ids(w, max_chars) for w in seq])
            mask[b, : len(seq)] = True
    return ids, mask
