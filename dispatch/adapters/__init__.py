"""Persistence of the dispatch aggregates."""
