"""The any-to-any model: 4M encoder-decoder, modality registry, tokenizers, data and training."""
