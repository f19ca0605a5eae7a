"""Back up a node into one encrypted file, and restore it into a new home folder.

The payload (inside the envelope of :mod:`batpass.backup._envelope`) is a gzip-compressed tar
stream: ``manifest.json`` first (what the backup holds), then ``home/...`` (every file of the
node's home folder but its database: ``config.json``, ``keys/``, ``tls/``, a hub's ``ouranos/``
operator keys) and ``database/node.db`` (SQLite, copied with SQLite's online backup API: one
consistent snapshot, taken while the node keeps serving) or ``database/node.pgdump`` (PostgreSQL:
``pg_dump`` of the node's schema). The database is copied before the key folder is read, so every
key the copy refers to is in the backup.

A restore writes nothing until the passphrase has opened the file, and puts the node in place
only once every chunk has been authenticated: it unpacks into a private staging folder beside
the target and renames it into place at the end (a PostgreSQL schema is restored in one
transaction just before).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
import stat
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import IO, Any

from sqlalchemy.engine import make_url

import batpass
from batpass.backup import _postgres
from batpass.backup._envelope import FORMAT_RULE, EncryptingWriter, KdfParams, open_envelope
from batpass.core.clock import utc_now
from batpass.core.errors import ConfigurationError, Conflict, InvalidInput
from batpass.core.settings import Settings
from batpass.node._config import NodeConfig, NodePaths, validate_name
from batpass.node.local import LocalNode
from batpass.store.engine import normalise_url

__all__ = ["BackupSummary", "backup_node", "restore_node"]

MANIFEST = "manifest.json"
_SQLITE_FILE, _PG_FILE = "node.db", "node.pgdump"
#: the database's own files in the home folder: the backup holds the consistent copy instead
_DB_FILES = frozenset({"node.db", "node.db-wal", "node.db-shm", "node.db-journal"})
_STAGING = (".backup-", ".restore-")


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds (or a restore put back)."""

    node: str
    did: str
    store: str
    home: Path
    files: int
    database_bytes: int
    file: Path
    file_bytes: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "did": self.did,
            "store": self.store,
            "home": str(self.home),
            "home_files": self.files,
            "database_bytes": self.database_bytes,
            "file": str(self.file),
            "file_bytes": self.file_bytes,
            "seconds": round(self.seconds, 3),
        }


def _store_kind(db_url: str) -> str:
    backend = make_url(normalise_url(db_url)).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigurationError(f"unsupported database backend '{backend}'", rule="sqlite or postgresql")
    return backend


def _sqlite_path(db_url: str) -> Path:
    database = make_url(db_url).database
    if not database or database == ":memory:":
        raise ConfigurationError(f"{db_url} is not a database file", rule="a node's SQLite store is a file")
    return Path(database)


def _copy_sqlite(source: Path, dest: Path) -> None:
    """SQLite's online backup in one step: a read transaction, so the copy is one consistent
    snapshot while writers go on (WAL mode lets them)."""
    if not source.is_file():
        raise ConfigurationError(f"the node's database {source} does not exist", rule="a node has its database")
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
    finally:
        src.close()


def _home_files(home: Path) -> Iterator[tuple[Path, str]]:
    """Every regular file of the home folder but the database's own, as (path, archive name)."""
    for folder, dirs, files in os.walk(home):
        dirs[:] = sorted(d for d in dirs if not d.startswith(_STAGING))
        for name in sorted(files):
            path = Path(folder) / name
            rel = path.relative_to(home).as_posix()
            if rel in _DB_FILES or not stat.S_ISREG(path.lstat().st_mode):
                continue
            yield path, f"home/{rel}"


def _add(tar: tarfile.TarFile, arcname: str, path: Path, mode: int | None = None) -> int:
    st = path.stat()
    info = tarfile.TarInfo(arcname)
    info.size, info.mtime = st.st_size, int(st.st_mtime)
    info.mode = stat.S_IMODE(st.st_mode) if mode is None else mode
    with path.open("rb") as fh:
        tar.addfile(info, fh)
    return st.st_size


def _add_bytes(tar: tarfile.TarFile, arcname: str, data: bytes) -> None:
    info = tarfile.TarInfo(arcname)
    info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
    tar.addfile(info, _BytesReader(data))


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else self._pos + n
        out = self._data[self._pos : end]
        self._pos += len(out)
        return out


def backup_node(local: LocalNode, out: Path, passphrase: str, *, kdf: KdfParams | None = None) -> BackupSummary:
    """Write an encrypted backup of ``local`` to ``out`` (mode 600; an existing file is refused)."""
    started = time.monotonic()
    out = out.absolute()
    if out.exists():
        raise Conflict(f"{out} already exists", rule="a backup never overwrites a file")
    if not out.parent.is_dir():
        raise InvalidInput(f"folder {out.parent} does not exist", field="out", rule="an existing folder")
    db_url = local.db_url
    kind = _store_kind(db_url)
    staging = Path(tempfile.mkdtemp(prefix=".backup-", dir=local.home))  # private (700), in the node's folder
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        store: dict[str, Any] = {"kind": kind}
        if kind == "sqlite":
            copy = staging / _SQLITE_FILE
            _copy_sqlite(_sqlite_path(db_url), copy)
        else:
            copy = staging / _PG_FILE
            store["schema"] = _postgres.current_schema(db_url, local.db_schema)
            _postgres.dump_schema(db_url, store["schema"], copy)
        store.update(file=f"database/{copy.name}", bytes=copy.stat().st_size)
        files = list(_home_files(local.home))  # after the database copy: every key it refers to is here
        manifest = {
            "format": "batpass-backup",
            "version": 1,
            "created": utc_now().isoformat(),
            "batpass": batpass.__version__,
            "node": {"name": local.name, "did": local.did, "profiles": list(local.config.profiles)},
            "store": store,
            "home": [name for _, name in files],
        }
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw:
            envelope = EncryptingWriter(raw, passphrase, kdf=kdf)
            gz = gzip.GzipFile(fileobj=envelope, mode="wb", compresslevel=6, mtime=0)
            with gz, tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode("utf-8"))
                for path, name in files:
                    _add(tar, name, path)
                _add(tar, store["file"], copy, mode=0o600)
            envelope.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.link(tmp, out)  # fails if ``out`` appeared meanwhile
    finally:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    return BackupSummary(
        local.name, local.did, kind, local.home, len(files), store["bytes"], out, out.stat().st_size,
        time.monotonic() - started,
    )  # fmt: skip


def _member_path(root: Path, name: str) -> Path:
    parts = PurePosixPath(name).parts
    if not parts or parts[0] not in ("home", "database") or any(p in ("..", "") for p in parts) or name.startswith("/"):
        raise InvalidInput(f"the backup holds an unexpected entry {name!r}", field="backup", rule=FORMAT_RULE)
    return root.joinpath(*parts)


def _unpack(stream: IO[bytes], root: Path) -> dict[str, Any]:
    """Unpack the tar stream into ``root``; returns the manifest. Only regular files and folders
    under ``home/`` and ``database/``; files keep their mode without group or other write."""
    manifest: dict[str, Any] | None = None
    try:
        with gzip.GzipFile(fileobj=stream, mode="rb") as gz:
            with tarfile.open(fileobj=gz, mode="r|") as tar:
                for member in tar:
                    if manifest is None:
                        if member.name != MANIFEST or not member.isfile():
                            raise InvalidInput(
                                "the backup does not start with its manifest", field="backup", rule=FORMAT_RULE
                            )
                        fh = tar.extractfile(member)
                        assert fh is not None
                        manifest = json.loads(fh.read())
                        continue
                    path = _member_path(root, member.name)
                    if member.isdir():
                        path.mkdir(parents=True, exist_ok=True, mode=0o700)
                        continue
                    if not member.isfile():
                        raise InvalidInput(
                            f"the backup holds a link or device {member.name!r}", field="backup", rule=FORMAT_RULE
                        )
                    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    src = tar.extractfile(member)
                    assert src is not None
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, member.mode & 0o755)
                    with os.fdopen(fd, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1024 * 1024)
            while gz.read(1024 * 1024):  # the rest, so gzip checks its CRC and every chunk is read
                pass
    except InvalidInput:
        raise
    except (tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error, ValueError) as exc:
        raise InvalidInput(f"the backup's content is damaged: {exc}", field="backup", rule=FORMAT_RULE) from exc
    except OSError as exc:  # the disk, not the file: full, or not writable
        raise ConfigurationError(
            f"cannot unpack the backup into {root}: {exc.strerror or exc}", rule="a writable folder with room"
        ) from exc
    if manifest is None or manifest.get("format") != "batpass-backup" or manifest.get("version") != 1:
        raise InvalidInput("the backup's manifest is missing or of another format", field="backup", rule=FORMAT_RULE)
    return manifest


def restore_node(source: Path, name: str, passphrase: str, *, settings: Settings) -> BackupSummary:
    """Restore the backup ``source`` as node ``name`` in ``settings.home``: refused if that folder
    holds anything, if the passphrase does not open the file, if any byte of it was altered, or if
    the node's PostgreSQL schema holds tables — in each case before anything is in place."""
    started = time.monotonic()
    validate_name(name)
    paths = NodePaths(settings.home / name)
    if paths.home.exists() and (not paths.home.is_dir() or any(paths.home.iterdir())):
        raise Conflict(
            f"{paths.home} already holds a node or other files: a restore never writes over them",
            rule="restore into a new or empty home folder",
        )
    try:
        fh = source.open("rb")
    except OSError as exc:
        raise InvalidInput(
            f"cannot read the backup {source}: {exc.strerror}", field="from", rule="a readable file"
        ) from exc
    with fh:
        reader = open_envelope(fh, passphrase)  # the header and the passphrase, before anything is written
        settings.home.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.restore-", dir=settings.home))
        try:
            manifest = _unpack(reader, staging)  # type: ignore[arg-type]
            reader.verify_to_end()
            return _put_in_place(manifest, staging, paths, settings, started, source)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _put_in_place(
    manifest: dict[str, Any], staging: Path, paths: NodePaths, settings: Settings, started: float, source: Path
) -> BackupSummary:
    home = staging / "home"
    config = NodeConfig.load(home / "config.json")
    if config.name != paths.home.name:  # restored under another name
        config = replace(config, name=paths.home.name)
        config.save(home / "config.json")
    home.chmod(0o700)
    node = LocalNode(config, paths, settings)
    store = manifest.get("store", {})
    kind, db_url = store.get("kind"), node.db_url
    copy = _member_path(staging, str(store.get("file", "")))
    if not copy.is_file():
        raise InvalidInput("the backup lacks its database copy", field="backup", rule=FORMAT_RULE)
    target_kind = _store_kind(db_url)
    if kind != target_kind:
        raise ConfigurationError(
            f"the backup holds a {kind} database, but the node would open {target_kind} ({db_url.split(':')[0]})",
            rule="restore into the kind of store the backup was taken from (check BATPASS_DB_URL)",
        )
    if kind == "sqlite":
        target = _sqlite_path(db_url)
        if target.resolve() == paths.database.resolve():
            copy.rename(home / paths.database.name)
        else:
            if target.exists():
                raise Conflict(f"{target} already exists", rule="a restore never writes over a database")
            os.link(copy, target)
    else:
        schema = _postgres.current_schema(db_url, node.db_schema)
        if schema != store.get("schema"):
            raise ConfigurationError(
                f"the backup holds schema {store.get('schema')}, the node would open schema {schema}",
                rule="a pg_dump restores into the schema it was taken from (BATPASS_DB_SCHEMA or config db_schema)",
            )
        _postgres.restore_schema(db_url, schema, copy)
    os.rename(home, paths.home)  # an empty folder is replaced; a folder that filled meanwhile is not
    return BackupSummary(
        config.name, config.did, kind, paths.home, len(manifest.get("home", ())), int(store.get("bytes", 0)), source,
        source.stat().st_size, time.monotonic() - started,
    )  # fmt: skip
