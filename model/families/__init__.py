"""Model families as search models: the interface they share, one adapter each, the registry."""
