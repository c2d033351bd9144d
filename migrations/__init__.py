"""anyseek migrations package."""
