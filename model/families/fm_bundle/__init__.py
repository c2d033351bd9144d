"""4M-format FM bundles (an FM, its space tokenizers, a text tokenizer) as search models."""
