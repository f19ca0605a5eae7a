"""batpass: EU battery passports and critical-material traceability across Catena-X and Ouranos."""

__version__ = "0.1.0"
