"""Identifiers, errors, units and settings shared by every capability (pure, no I/O)."""
