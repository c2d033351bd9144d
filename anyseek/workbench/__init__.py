"""The workbench: what makes the built-in model, apart from what a server loads.

Scene data and people's drawing styles, the training cache, the built-in model's training loop,
recipes, evaluation and the model card. It imports ``model/``; nothing the service runs imports
it (an import contract in ``pyproject.toml`` and ``tests/test_service_imports.py``).
"""
