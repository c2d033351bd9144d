"""Evaluation of anyseek models: retrieval quality on held-out generated scenes."""
