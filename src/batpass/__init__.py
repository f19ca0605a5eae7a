"""batpass: EU battery passports and critical-material traceability across Catena-X and Ouranos."""

from batpass import _compiled

# before any module of the ledger is imported: which of its modules run compiled (batpass._compiled)
_compiled.install()

__version__ = "0.1.0"
