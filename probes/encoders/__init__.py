"""Model families that transformers does not serve (ELMo, Transformer-XL), run in torch."""
