"""Identifiers, errors, units, settings and the one clock shared by every capability (pure, no I/O)."""
