"""anyseek workers package."""
