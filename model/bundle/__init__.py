"""The built-in model as files: its one definition, what a bundle declares, loading a bundle."""
