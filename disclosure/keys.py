"""The trail's keys, held outside the database: the secret that keys every chain and seal, and
the Ed25519 key that signs checkpoints.

A trail key file holds one key a line, `<key id> <64 hex digits>`; the first line is the key new
rows are written with, the lines after it are older keys kept so rows written under them still
verify (rotation: put a new line first, keep the old ones).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import make_url


class TrailKeyError(Exception):
    """A key file is missing, unreadable or malformed; the message says which and what to do."""


class TrailKeys:
    """The trail's HMAC-SHA-256 keys by id; the first is the one new rows are written with."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise TrailKeyError("the trail key file holds no key")
        self.current = keys[0][0]
        self._keys = keys
        self._secrets = dict(keys)

    def __reduce__(self) -> tuple[type[TrailKeys], tuple[list[tuple[str, bytes]]]]:
        # Passed to the worker process that verifies the trail off the app's event loop.
        return TrailKeys, (self._keys,)

    def mac(self, key_id: str, message: bytes) -> str | None:
        """The hex MAC of `message` under key `key_id`; None for a key this file does not hold."""
        secret = self._secrets.get(key_id)
        if secret is None:
            return None
        # The one-shot digest runs in C: a copied `hmac.HMAC` costs more than the hashing.
        return hmac.digest(secret, message, "sha256").hex()

    def sign(self, message: bytes) -> str:
        """The MAC of `message` under the current key."""
        return hmac.digest(self._secrets[self.current], message, "sha256").hex()

    @classmethod
    def random(cls) -> TrailKeys:
        """A throwaway key, for an in-memory database that outlives nothing."""
        return cls([("memory", secrets.token_bytes(32))])


def _key_line() -> str:
    return f"{secrets.token_hex(4)} {secrets.token_hex(32)}\n"


def _write_private(path: Path, text: str | bytes) -> None:
    """Create `path` readable by its owner only; refuse to overwrite."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(text.encode() if isinstance(text, str) else text)


def create_trail_key_file(path: Path) -> None:
    """A new trail key file with one fresh key (mode 0600); an existing file is never replaced."""
    _write_private(path, _key_line())


def rotate_trail_key(path: Path) -> str:
    """Put a new key first in the file, keeping the older ones for verification; its id."""
    old = path.read_text()
    line = _key_line()
    tmp = path.with_name(path.name + ".new")
    _write_private(tmp, line + old)
    tmp.replace(path)
    return line.split()[0]


def load_trail_keys(path: Path) -> TrailKeys:
    try:
        text = path.read_text()
    except OSError as e:
        raise TrailKeyError(
            f"cannot read the trail key file {path} ({e.strerror}); create it with"
            " `disclosure audit keygen`"
        ) from None
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        try:
            if len(parts) != 2 or len(parts[1]) < 64:
                raise ValueError
            keys.append((parts[0], bytes.fromhex(parts[1])))
        except ValueError:
            raise TrailKeyError(
                f"{path} line {number}: expected `<key id> <at least 64 hex digits>`"
            ) from None
    return TrailKeys(keys)


def default_trail_key_file(database_url: str) -> Path | None:
    """Where the trail key lives when no file is configured: beside a SQLite database file (a
    development default, created on first use); nowhere for PostgreSQL, which must name one."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).parent / "trail.key"


def trail_keys_for(database_url: str, key_file: Path | None) -> TrailKeys:
    """The keys for a database: the configured file, else the SQLite default (created if
    missing), else a refusal naming the setting."""
    if key_file is not None:
        return load_trail_keys(key_file)
    default = default_trail_key_file(database_url)
    if default is not None:
        if not default.exists():
            create_trail_key_file(default)
        return load_trail_keys(default)
    if make_url(database_url).get_backend_name() == "sqlite":
        return TrailKeys.random()
    raise TrailKeyError(
        "DISCLOSURE_TRAIL_KEY_FILE is not set: on PostgreSQL the trail's key must be a file the"
        " database cannot read (make one with `disclosure audit keygen`)"
    )


# Checkpoint signing ------------------------------------------------------------------------


def checkpoint_key_file(database_url: str, key_file: Path | None) -> Path:
    """The configured checkpoint key, else `checkpoint.key` beside a SQLite database file."""
    if key_file is not None:
        return key_file
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / "checkpoint.key"
    raise TrailKeyError(
        "DISCLOSURE_CHECKPOINT_KEY_FILE is not set: name the Ed25519 key that signs checkpoints"
        " (make one with `disclosure audit keygen`)"
    )


def create_checkpoint_key(path: Path) -> Ed25519PublicKey:
    """A new Ed25519 private key (PEM, mode 0600) at `path` and its public key beside it."""
    private = Ed25519PrivateKey.generate()
    _write_private(path, private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    public = private.public_key()
    public_path(path).write_bytes(public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ))
    return public


def public_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name + ".pub")


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as e:
        raise TrailKeyError(
            f"cannot read the checkpoint key {path} ({e.strerror}); create it with"
            " `disclosure audit keygen`"
        ) from None
    except ValueError:
        raise TrailKeyError(f"{path} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise TrailKeyError(f"{path} is not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The public key in `path`, which may hold the public key or the private key."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TrailKeyError(f"cannot read {path} ({e.strerror})") from None
    if b"PRIVATE KEY" in data:
        return load_signing_key(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise TrailKeyError(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise TrailKeyError(f"{path} is not an Ed25519 key")
    return key


def key_id(public: Ed25519PublicKey) -> str:
    """A short name for a checkpoint key: the start of the SHA-256 of its raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]
