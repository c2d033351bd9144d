"""anyseek indexer package."""
