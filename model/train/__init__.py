"""Training of the built-in default model: teachers, global tokenizers, text tokenizer, the FM."""
