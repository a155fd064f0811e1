"""Configuration: defaults, then ``DESK_*`` environment overrides (SPEC §6)."""
from __future__ import annotations

import os
import secrets
from email.utils import formataddr, parseaddr
from pathlib import Path

from .private_files import create_private, private_dir, tighten

ENV_KEYS = (
    "DESK_DATABASE_URL",
    "DESK_SECRET_KEY",
    "DESK_AUDIT_KEY",
    "DESK_SMTP_URL",
    "DESK_MAIL_FROM",
    "DESK_UPLOAD_DIR",
    "DESK_BASE_URL",
    "DESK_SECURE_COOKIES",
    "DESK_REPORT_MIN_COUNTRY",
    "DESK_STAFF_2FA",
    "DESK_SESSION_IDLE_MINUTES",
    "DESK_SESSION_MAX_HOURS",
    "DESK_SESSION_CACHE_SECONDS",
    "DESK_SIGN_IN_LINK_HOURS",
    "DESK_SMTP_TIMEOUT",
    "DESK_NOTICE_MAX_ATTEMPTS",
    "DESK_NOTICE_BACKOFF_SECONDS",
    "DESK_BREAK_GLASS_HOURS",
    "DESK_PROVIDER_NAME",
    "DESK_PROVIDER_LOGO",
    "DESK_RETENTION_DAYS",
)

# Who publishes the reports and signs the notices, until DESK_PROVIDER_NAME says.
DEFAULT_PROVIDER_NAME = "Example Provider"
PROVIDER_NAME_MAX = 120
# The logo's media type by file suffix, and the bytes such a file starts with (or holds).
LOGO_TYPES = {".png": "image/png", ".svg": "image/svg+xml"}
LOGO_MAX_BYTES = 512 * 1024
# Links in e-mails and the feed when DESK_BASE_URL is not set (`make run` sets it to its port;
# the feed follows the request's host instead: see public_base_url).
DEFAULT_BASE_URL = "http://127.0.0.1:5000"
DEFAULT_MAIL_ADDRESS = "legal-notices@localhost"

# Whole-number settings (environment strings become ints; 0 is refused where it makes no sense).
POSITIVE_INTS = ("DESK_SESSION_IDLE_MINUTES", "DESK_SESSION_MAX_HOURS", "DESK_SIGN_IN_LINK_HOURS",
                 "DESK_NOTICE_MAX_ATTEMPTS", "DESK_NOTICE_BACKOFF_SECONDS", "DESK_BREAK_GLASS_HOURS",
                 "DESK_RETENTION_DAYS")
# How long a closed demand's files and personal details are kept (SPEC §8: `desk purge`).
DEFAULT_RETENTION_DAYS = 730


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_config(instance_path: str, environ: dict[str, str] | None = None) -> dict:
    """Build the app's config dict. Reads the secret key file but writes it only if absent."""
    env = os.environ if environ is None else environ
    instance = Path(instance_path)
    config: dict = {
        "DESK_DATABASE_URL": f"sqlite:///{instance / 'desk.sqlite'}",
        "DESK_SMTP_URL": None,
        "DESK_MAIL_FROM": None,  # the provider's name <legal-notices@localhost>
        "DESK_UPLOAD_DIR": str(instance / "uploads"),
        "DESK_OUTBOX_DIR": str(instance / "outbox"),
        "DESK_BASE_URL": DEFAULT_BASE_URL,
        "DESK_SECURE_COOKIES": False,
        "DESK_REPORT_MIN_COUNTRY": 0,
        "DESK_STAFF_2FA": "required",
        "DESK_SESSION_IDLE_MINUTES": 30,
        "DESK_SESSION_MAX_HOURS": 12,
        # How long a worker signs a session in from what it last read (services/session_cache.py):
        # the bound on how late another process's deactivation or logout takes effect. 0: never.
        "DESK_SESSION_CACHE_SECONDS": 5,
        "DESK_SIGN_IN_LINK_HOURS": 24,
        "DESK_SMTP_TIMEOUT": 20.0,
        "DESK_NOTICE_MAX_ATTEMPTS": 8,
        "DESK_NOTICE_BACKOFF_SECONDS": 300,
        "DESK_BREAK_GLASS_HOURS": 4,
        "DESK_PROVIDER_NAME": DEFAULT_PROVIDER_NAME,
        "DESK_PROVIDER_LOGO": None,
        "DESK_RETENTION_DAYS": DEFAULT_RETENTION_DAYS,
        "MAX_CONTENT_LENGTH": 21 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
    }
    for key in ENV_KEYS:
        if key in env and env[key] != "":
            config[key] = env[key]
    config["DESK_SECURE_COOKIES"] = (
        _truthy(config["DESK_SECURE_COOKIES"])
        if isinstance(config["DESK_SECURE_COOKIES"], str)
        else bool(config["DESK_SECURE_COOKIES"])
    )
    config["SESSION_COOKIE_SECURE"] = config["DESK_SECURE_COOKIES"]
    config["DESK_REPORT_MIN_COUNTRY"] = _whole_number("DESK_REPORT_MIN_COUNTRY", config["DESK_REPORT_MIN_COUNTRY"])
    config["DESK_SESSION_CACHE_SECONDS"] = _whole_number("DESK_SESSION_CACHE_SECONDS",
                                                         config["DESK_SESSION_CACHE_SECONDS"])
    config["DESK_BASE_URL"] = str(config["DESK_BASE_URL"]).rstrip("/")
    config["DESK_BASE_URL_SET"] = bool(env.get("DESK_BASE_URL"))
    config["DESK_PROVIDER_NAME"] = provider_name(config["DESK_PROVIDER_NAME"])
    config["DESK_PROVIDER_LOGO"] = provider_logo(config["DESK_PROVIDER_LOGO"])
    config["DESK_MAIL_FROM"] = mail_from(config["DESK_MAIL_FROM"], config["DESK_PROVIDER_NAME"])
    for key in POSITIVE_INTS:
        config[key] = _whole_number(key, config[key])
        if config[key] == 0:
            raise ValueError(f"{key} must be 1 or more (got 0)")
    try:
        config["DESK_SMTP_TIMEOUT"] = float(config["DESK_SMTP_TIMEOUT"])
    except (TypeError, ValueError):
        raise ValueError(f"DESK_SMTP_TIMEOUT must be a number of seconds (got {config['DESK_SMTP_TIMEOUT']!r})") from None
    if not config["DESK_SMTP_TIMEOUT"] > 0:
        raise ValueError("DESK_SMTP_TIMEOUT must be more than 0 seconds")
    config["DESK_STAFF_2FA"] = str(config["DESK_STAFF_2FA"]).strip().lower()
    if config["DESK_STAFF_2FA"] not in ("required", "optional"):
        raise ValueError(f"DESK_STAFF_2FA must be required or optional (got {config['DESK_STAFF_2FA']!r})")
    config["PERMANENT_SESSION_LIFETIME"] = config["DESK_SESSION_MAX_HOURS"] * 3600
    secret = config.pop("DESK_SECRET_KEY", None)
    config["SECRET_KEY"] = secret or _instance_secret(instance, "secret_key")
    audit_key = audit_key_setting(config.get("DESK_AUDIT_KEY"))
    config["DESK_AUDIT_KEY"] = audit_key or _instance_secret(instance, "audit_key")
    return config


def provider_name(value: str) -> str:
    """``DESK_PROVIDER_NAME`` on one line: spaces collapsed, at most 120 characters."""
    name = " ".join(str(value).split())
    if not name:
        return DEFAULT_PROVIDER_NAME
    if len(name) > PROVIDER_NAME_MAX:
        raise ValueError(f"DESK_PROVIDER_NAME must be at most {PROVIDER_NAME_MAX} characters")
    return name


def provider_logo(value: str | None) -> str | None:
    """``DESK_PROVIDER_LOGO``: the absolute path of a readable PNG or SVG file, or None.
    A wrong one stops the application at start rather than publishing a report without it."""
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if path.suffix.lower() not in LOGO_TYPES:
        raise ValueError(f"DESK_PROVIDER_LOGO must name a .png or .svg file (got {value!r})")
    try:
        head = path.read_bytes()[:LOGO_MAX_BYTES + 1]
    except OSError as err:
        raise ValueError(f"DESK_PROVIDER_LOGO cannot be read: {value!r} ({err.strerror})") from None
    if len(head) > LOGO_MAX_BYTES:
        raise ValueError(f"DESK_PROVIDER_LOGO must be at most {LOGO_MAX_BYTES // 1024} KB (got {value!r})")
    if path.suffix.lower() == ".png" and not head.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError(f"DESK_PROVIDER_LOGO is not a PNG image: {value!r}")
    if path.suffix.lower() == ".svg" and b"<svg" not in head:
        raise ValueError(f"DESK_PROVIDER_LOGO is not an SVG image: {value!r}")
    return str(path)


def mail_from(value: str | None, provider: str) -> str:
    """``DESK_MAIL_FROM`` as given when it has a display name; otherwise its address (or
    legal-notices@localhost) under the provider's name, which then signs the notices."""
    name, address = parseaddr(value or "")
    if value and name:
        return value
    return formataddr((provider, address or value or DEFAULT_MAIL_ADDRESS))


def public_base_url(config, host_url: str | None = None) -> str:
    """The address absolute links start with: ``DESK_BASE_URL`` when it is set (or given to
    the app later); otherwise the served host of the request (``request.host_url``) when
    there is one. E-mails never pass ``host_url``: a Host header is the client's to choose."""
    base = str(config.get("DESK_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    if host_url and not config.get("DESK_BASE_URL_SET") and base == DEFAULT_BASE_URL:
        return host_url.rstrip("/")
    return base


AUDIT_KEY_MIN = 32


def audit_key_setting(value: str | None) -> str | None:
    """``DESK_AUDIT_KEY`` as given: any string of 32 characters or more, used as its UTF-8
    bytes (a hex string is not decoded, so ``secrets.token_hex(32)`` and the generated
    file work alike). None when unset: the instance folder's ``audit_key`` file then."""
    if value is None or value == "":
        return None
    if len(value.strip()) < AUDIT_KEY_MIN:
        raise ValueError(f"DESK_AUDIT_KEY must be at least {AUDIT_KEY_MIN} characters "
                         "(e.g. python3 -c 'import secrets; print(secrets.token_hex(32))')")
    return value.strip()


def _whole_number(key: str, value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise ValueError(f"{key} must be a whole number, 0 or more (got {value!r})")
    return number


def _instance_secret(instance: Path, name: str) -> str:
    """A generated secret kept in the instance folder (``secret_key``, ``audit_key``):
    64 hex characters, written 0600 in a 0700 folder on first start. Written beside its
    name and linked into place, so a worker starting at the same moment reads the whole
    key or makes none: the first link wins and every worker reads that one."""
    path = instance / name
    if not path.exists():
        private_dir(instance)
        tmp = instance / f".{name}.{secrets.token_hex(8)}.tmp"
        try:
            with create_private(tmp) as fh:
                fh.write(secrets.token_hex(32).encode())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    tighten(path)
    key = path.read_text().strip()
    if not key:
        raise ValueError(f"{path} is empty: restore the key from its backup")
    return key
