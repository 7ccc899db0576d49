"""Secrets at rest and in logs: Fernet encryption, a redacting dict, a log filter.

OAuth tokens, client secrets, passwords and private keys are stored encrypted
with one Fernet key. The key comes from ``SFBRIDGE_SECRET_KEY`` or, when that is
unset, from a key file ``<home>/secret.key`` that sfbridge generates with mode
0600. Every value the ``SecretBox`` encrypts or decrypts is remembered by the
process-wide ``secret_log_filter``, which masks it if it ever reaches a log record.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import threading
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from sfbridge.config import Settings
from sfbridge.errors import ConfigError

KEY_ENV_VAR = "SFBRIDGE_SECRET_KEY"
KEY_FILE_NAME = "secret.key"
GENERATE_KEY_COMMAND = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)

_MASK = "***"


class SecretValues(dict[str, str]):
    """A plain ``dict`` of secrets whose ``repr`` and ``str`` show the keys only.

    Tracebacks that print local variables (Typer's and Rich's do by default) and
    careless f-strings then show ``SecretValues(access_token=***)``, not a token.
    """

    def __repr__(self) -> str:
        shown = ", ".join(f"{key}={_MASK}" for key in self)
        return f"SecretValues({shown})"

    __str__ = __repr__


class SecretLogFilter(logging.Filter):
    """Masks every remembered secret value in log records (message, args, traceback).

    A filter on a logger only sees records logged on that very logger, not the
    ones its children propagate, so ``install_secret_log_filter`` attaches it to
    the handlers as well.
    """

    # Short values ("true", "1234") would mask ordinary words everywhere; real
    # tokens, keys and passwords are longer.
    MIN_LENGTH = 6
    # A long-running server sees an access token per refresh; keep the newest
    # ones instead of growing forever.
    MAX_REMEMBERED = 10_000

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        # A dict keeps insertion order, so the oldest values are dropped first.
        self._values: dict[str, None] = {}

    def remember(self, value: str) -> None:
        """Mask ``value`` (and each line of a multi-line value, such as a PEM key) from now on."""
        # A PEM key logged inside JSON or repr has its newlines escaped, so the
        # whole value would not match; its lines still do.
        candidates = [value, *value.splitlines()]
        with self._lock:
            for candidate in candidates:
                if len(candidate.strip()) >= self.MIN_LENGTH:
                    self._values.pop(candidate, None)
                    self._values[candidate] = None
            while len(self._values) > self.MAX_REMEMBERED:
                del self._values[next(iter(self._values))]

    def mask(self, text: str) -> str:
        """Return ``text`` with every remembered secret replaced by ``***``."""
        with self._lock:
            # Longest first, so a secret that contains another is masked whole.
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, _MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place when it carries a secret; never drop it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A broken format string: let the handler report it as it always does.
            return True
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so a masked copy is what prints.
            formatted = logging.Formatter().formatException(record.exc_info)
            masked_exc = self.mask(formatted)
            if masked_exc != formatted:
                record.exc_text = masked_exc
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


secret_log_filter = SecretLogFilter()
"""The process-wide filter: every ``SecretBox`` tells it the values it handles."""


def install_secret_log_filter(logger: logging.Logger | None = None) -> SecretLogFilter:
    """Attach ``secret_log_filter`` to ``logger`` (root by default) and to its handlers.

    Records from child loggers reach the root's handlers but skip the root's own
    filters, hence both. Call it again after adding a handler; it never attaches twice.
    """
    target = logger if logger is not None else logging.getLogger()
    target.addFilter(secret_log_filter)
    for handler in target.handlers:
        handler.addFilter(secret_log_filter)
    return secret_log_filter


class SecretBox:
    """Encrypts and decrypts secrets with one Fernet key; the key itself never prints."""

    def __init__(self, key: bytes, *, source: str) -> None:
        """Use ``key`` (a Fernet key); ``source`` says where it came from, for messages."""
        try:
            self._fernet = Fernet(key)
        except ValueError:
            # The value is never echoed: a near-miss key is still mostly a key.
            raise ConfigError(
                f"{source} is not a valid Fernet key (32 url-safe base64-encoded bytes). "
                f"Generate one with: {GENERATE_KEY_COMMAND}"
            ) from None
        self.source = source

    def __repr__(self) -> str:
        return f"SecretBox(key from {self.source})"

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        """The box for ``settings``: ``SFBRIDGE_SECRET_KEY`` if set, else ``<home>/secret.key``."""
        if settings.secret_key is not None:
            key = settings.secret_key.get_secret_value().strip().encode()
            return cls(key, source=KEY_ENV_VAR)
        key_file = settings.home / KEY_FILE_NAME
        return cls(_read_or_create_key_file(key_file), source=str(key_file))

    def encrypt(self, plaintext: str) -> str:
        """Encrypt ``plaintext`` into a Fernet token (ASCII text, safe for any column)."""
        secret_log_filter.remember(plaintext)
        return self._encrypt(plaintext)

    def decrypt(self, token: str, *, what: str = "a stored secret") -> str:
        """Decrypt a token made by ``encrypt``; ``what`` names it if the key does not fit."""
        plaintext = self._decrypt(token, what=what)
        secret_log_filter.remember(plaintext)
        return plaintext

    def encrypt_values(self, values: Mapping[str, str]) -> str:
        """Encrypt a dict of secrets as one token (its JSON)."""
        for value in values.values():
            secret_log_filter.remember(value)
        return self._encrypt(json.dumps(dict(values), sort_keys=True))

    def decrypt_values(self, token: str, *, what: str = "stored secrets") -> SecretValues:
        """Decrypt a token made by ``encrypt_values``."""
        values = SecretValues(json.loads(self._decrypt(token, what=what)))
        for value in values.values():
            secret_log_filter.remember(value)
        return values

    def _encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def _decrypt(self, token: str, *, what: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeEncodeError):
            raise ConfigError(
                f"cannot decrypt {what}: the secret key changed since it was saved "
                f"(key from {self.source}). Restore the previous key, or reconnect to "
                f"store new credentials under the current one. Every process and worker "
                f"sharing this state database needs the same {KEY_ENV_VAR}."
            ) from None


def _read_or_create_key_file(path: Path) -> bytes:
    """Read the key file, creating it with mode 0600 on first use."""
    if not path.exists():
        _create_key_file(path)
    # Windows has no group/other mode bits worth checking; its ACLs guard the file.
    if os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"the key file {path} is open to other users (mode {mode:04o}); "
                f"restrict it with: chmod 600 {path}"
            )
    return path.read_bytes().strip()


def _create_key_file(path: Path) -> None:
    """Write a new key to ``path`` atomically; if another process won the race, keep theirs."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The key is written to a private temporary file and then hard-linked into
    # place: a link never overwrites, so two processes starting together (the
    # server and a CLI command) end up agreeing on one key, and nobody ever
    # reads a half-written file.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as key_file:
            key_file.write(Fernet.generate_key() + b"\n")
            key_file.flush()
            os.fsync(key_file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink()
