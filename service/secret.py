"""The SIP passwords, encrypted before they reach SQL and decrypted only by the service.

A digest-authenticating agent needs the password itself, so it cannot be hashed; but a
value in an SQL statement is in every log that shows statements (Odoo's ``--log-sql``, a
failing statement, PostgreSQL's ``log_statement``) and in every backup. So the password is
Fernet-encrypted in Python, with a key from the server's configuration (``secret_key`` in
``[cti_connector]``, or ``ODOO_CTI_SECRET_KEY``), before any statement carries it, and only
the service host decrypts it, in memory, for the agent.

Several keys, comma-separated, newest first, allow rotation (``MultiFernet``): values are
encrypted with the first and decrypted with any; :func:`rotate` re-encrypts a value with the
first. Without a configured key, one is generated once in Odoo's data directory
(``<data_dir>/cti_connector/secret.key``, mode 0600), next to the filestore: the passwords
are still out of SQL and out of database backups, and every process sharing the data
directory (as nodes share the filestore) uses the same key.
"""

import contextlib
import logging
import os
import tempfile

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from odoo.tools import config as odoo_config

from .config import ServiceConfig

_logger = logging.getLogger(__name__)


class SecretKeyError(ValueError):
    """No usable key, or a value no configured key decrypts; the message says which."""


def key_file():
    """Where the key generated without configuration lives."""
    return os.path.join(odoo_config["data_dir"], "cti_connector", "secret.key")


def _generated_key():
    """The key of :func:`key_file`, created on first use; exactly one process creates it
    (written aside, then hard-linked into place, which fails if another got there first)."""
    path = key_file()
    with contextlib.suppress(FileNotFoundError), open(path, encoding="ascii") as file:
        return file.read().strip()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd, aside = tempfile.mkstemp(dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(Fernet.generate_key().decode())
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)
            _logger.warning(
                "CTI: no secret_key configured; generated one in %s to encrypt SIP "
                "passwords (back it up apart from the database)",
                path,
            )
    finally:
        os.unlink(aside)
    with open(path, encoding="ascii") as file:
        return file.read().strip()


def _fernet():
    keys = [key.strip() for key in ServiceConfig.load().secret_key.split(",") if key.strip()]
    if not keys:
        try:
            keys = [_generated_key()]
        except OSError as exc:
            raise SecretKeyError(
                f"no key to encrypt SIP passwords ({exc}): set secret_key in the "
                "[cti_connector] section of the Odoo configuration or ODOO_CTI_SECRET_KEY"
            ) from exc
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise SecretKeyError(
            "the CTI secret_key is not a Fernet key (32 url-safe base64-encoded bytes)"
        ) from exc


def encrypt(password):
    """:return: the token to store for ``password`` (str)"""
    return _fernet().encrypt(password.encode()).decode()


def decrypt(token):
    """:return: the password ``token`` holds
    :raises SecretKeyError: when no configured key decrypts it"""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretKeyError("the stored SIP password was encrypted with another key") from exc


def is_token(value):
    """Whether ``value`` looks like a Fernet token (version byte 0x80), not a clear text
    left by an older release."""
    return value.startswith("gAAAAA")


def rotate(token):
    """:return: ``token`` re-encrypted with the newest key"""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretKeyError("the stored SIP password was encrypted with another key") from exc
