"""Vocabularies, namespaces and the class/property hierarchy (the lowest layer)."""
