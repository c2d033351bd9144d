"""anyseek api package."""
