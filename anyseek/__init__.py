"""anyseek: find images by anything, with a 4M-family any-to-any model."""

__version__ = "0.1.0"
