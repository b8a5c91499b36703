"""Notebook widgets (installed as puffer_learn.widgets)."""
