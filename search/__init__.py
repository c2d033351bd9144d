"""anyseek search package."""
