"""The words and classes the served model reads and names: plain data, no scene generator.

The scene world (the top-level ``scenes`` package, the ``scenes`` extra) generates from these, and
the service reads them (caption synonyms, function words, the palette's classes) without loading it.
"""
