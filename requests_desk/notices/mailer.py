"""Sending e-mail: real SMTP (``DESK_SMTP_URL``), or ``.eml`` files in the outbox folder.

Standard library only (``smtplib``, ``email``). A mailer raises ``DeliveryError`` for
anything that kept a message from being handed over; the dispatcher records it on the
notice and retries later — it never reaches a user as an exception.

``DESK_SMTP_URL`` forms: ``smtp://host:port`` (plain), ``smtp://host:port?starttls=1``
(upgrade with STARTTLS), ``smtps://host:port`` (TLS from the start); a
``user:password@`` part logs in to the relay.
"""
from __future__ import annotations

import hashlib
import os
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ..private_files import create_private, private_dir

DEFAULT_TIMEOUT = 20.0


class DeliveryError(Exception):
    """The message was not handed over; ``str()`` is a short, log-safe description."""


class ConfigError(ValueError):
    """``DESK_SMTP_URL`` cannot be used."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    tls: str  # "none", "starttls" or "ssl"
    username: str | None = None
    password: str | None = None
    timeout: float = DEFAULT_TIMEOUT


def parse_smtp_url(url: str, timeout: float = DEFAULT_TIMEOUT) -> SmtpSettings:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ConfigError(f"DESK_SMTP_URL must start with smtp:// or smtps:// (got {parts.scheme or 'nothing'}://)")
    if not parts.hostname:
        raise ConfigError("DESK_SMTP_URL needs a host, such as smtp://mail.example.com:25")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("DESK_SMTP_URL has a port that is not a number") from None
    query = parse_qs(parts.query)
    starttls = (query.get("starttls") or ["0"])[0].lower() in {"1", "true", "yes", "on"}
    tls = "ssl" if parts.scheme == "smtps" else ("starttls" if starttls else "none")
    return SmtpSettings(
        host=parts.hostname,
        port=port or (465 if tls == "ssl" else 25),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        timeout=timeout,
    )


class SmtpMailer:
    """One connection per dispatch run, opened on first use and checked before reuse."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._conn: smtplib.SMTP | None = None

    def describe(self) -> str:
        return f"SMTP {self.settings.host}:{self.settings.port}"

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.tls == "ssl":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                                  context=ssl.create_default_context())
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        conn.ehlo_or_helo_if_needed()
        if s.tls == "starttls":
            conn.starttls(context=ssl.create_default_context())
            conn.ehlo()
        if s.username:
            conn.login(s.username, s.password or "")
        return conn

    def _connection(self) -> smtplib.SMTP:
        if self._conn is not None:
            try:
                if self._conn.noop()[0] == 250:
                    return self._conn
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        self._conn = self._connect()
        return self._conn

    def send(self, message: EmailMessage, recipients: list[str]) -> dict[str, str]:
        """Hand the message over for every recipient; returns the refused ones
        (address → reason). Raises DeliveryError when none was accepted."""
        try:
            refused = self._connection().send_message(message, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as err:
            self._drop()
            raise DeliveryError(f"every recipient was refused: {_refusals(err.recipients)}") from None
        except smtplib.SMTPResponseException as err:
            self._drop()
            raise DeliveryError(f"SMTP {err.smtp_code}: {_text(err.smtp_error)}") from None
        except smtplib.SMTPServerDisconnected as err:
            self._drop()
            raise DeliveryError(f"the SMTP server closed the connection ({err or 'no reason given'})") from None
        except smtplib.SMTPException as err:
            self._drop()
            raise DeliveryError(f"SMTP error: {err}") from None
        except (socket.timeout, TimeoutError):
            self._drop()
            raise DeliveryError(f"the SMTP server did not answer within {self.settings.timeout:g} s") from None
        except OSError as err:
            self._drop()
            raise DeliveryError(
                f"cannot reach the SMTP server {self.settings.host}:{self.settings.port} ({err.strerror or err})"
            ) from None
        return {addr: _text(reason[1]) for addr, reason in (refused or {}).items()}

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.close()
        except Exception:  # closing a broken connection: nothing more to do
            pass

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
        self._drop()


class FileMailer:
    """Without ``DESK_SMTP_URL``: each message becomes ``<outbox>/<hash of Message-ID>.eml``.

    Named after the Message-ID, so a repeated attempt rewrites the same file."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def describe(self) -> str:
        return f"files in {self.directory}"

    def send(self, message: EmailMessage, recipients: list[str]) -> dict[str, str]:
        name = hashlib.sha256(str(message["Message-ID"]).encode()).hexdigest()[:32] + ".eml"
        try:
            private_dir(self.directory)
            tmp = self.directory / f".{name}.tmp"
            with create_private(tmp, replace=True) as out:  # 0600 in a 0700 folder: mail is private
                out.write(message.as_bytes())
            os.replace(tmp, self.directory / name)
        except OSError as err:
            raise DeliveryError(f"cannot write to the outbox folder ({err.strerror or err})") from None
        return {}

    def close(self) -> None:
        pass


def mailer_from_config(config) -> SmtpMailer | FileMailer:
    url = config.get("DESK_SMTP_URL")
    if url:
        return SmtpMailer(parse_smtp_url(url, float(config.get("DESK_SMTP_TIMEOUT") or DEFAULT_TIMEOUT)))
    return FileMailer(config["DESK_OUTBOX_DIR"])


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())[:300]


def _refusals(recipients: dict) -> str:
    return "; ".join(f"{addr} ({code} {_text(msg)})" for addr, (code, msg) in recipients.items())[:400]
