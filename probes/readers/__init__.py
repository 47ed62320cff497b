"""Reading corpora (CoNLL-U, spaCy DocBin, raw text, ud:NAME) into lists of Sentence."""
