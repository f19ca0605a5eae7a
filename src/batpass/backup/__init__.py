"""Backup and restore of a node (``batpass backup``, ``batpass restore``): its database (SQLite's
online backup, or ``pg_dump`` of its PostgreSQL schema), keys and configuration in one file
encrypted under a passphrase (scrypt, AES-256-GCM). See docs/operations.md "Backup and restore".
"""

from batpass.backup._envelope import FORMAT_VERSION, KdfParams
from batpass.backup._node import BackupSummary, backup_node, restore_node

__all__ = ["FORMAT_VERSION", "BackupSummary", "KdfParams", "backup_node", "restore_node"]
