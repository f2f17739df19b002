"""The one typed configuration of the service: defaults, then `AMFLOW_*` environment variables, then overrides
given to `create_app`.

Everything is validated when the app (or a CLI command) starts, so a typo fails loudly at start-up
instead of at the first request.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from processes import SmtpSettings

ENV_PREFIX = "AMFLOW_"
MIN_SECRET_KEY_LENGTH = 16
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the setting and what is wrong with it."""


@dataclass(frozen=True)
class Config:
    """Settings of one running service; field names upper-cased are the Flask config keys."""

    database_url: str
    secret_key: str
    instance_path: Path
    testing: bool = False
    max_content_length: int = 5 * 1024 * 1024  # bytes; BPMN uploads are the largest bodies
    max_json_length: int = 1024 * 1024  # bytes of a JSON request body (never more than max_content_length)
    log_level: str = "INFO"
    log_format: str = "text"  # "json": one JSON object per line, with the request id (service/logs.py)
    metrics: bool = False  # serve Prometheus metrics at /metrics, unauthenticated (see docs/operations.md)
    smtp_url: str | None = None  # smtp://host:port, smtp://user:pass@host:port, smtp+starttls://...; None: log mail
    mail_from: str = "amflow@localhost"
    worker_interval: float = 5.0  # seconds between the timer worker's passes
    token_ttl: int = 24 * 3600  # seconds an API bearer token lives
    session_ttl: int = 12 * 3600  # seconds a web log-in lives (a working day), unless logged out before
    behind_https: bool = False  # served over HTTPS (directly or by a proxy): the session cookie gets `Secure`
    trusted_proxies: int = 0  # reverse proxies in front whose X-Forwarded-For/-Proto are believed (ProxyFix)
    login_max_failures_per_account: int = 10  # per window; then 429 until the window ends
    login_max_failures_per_address: int = 50
    login_failure_window: int = 15 * 60  # seconds
    # signing keys of the links for people without an account: "kid:secret,kid:secret", the first signs new
    # links and every one still verifies (rotation); empty: one key "k1" derived from SECRET_KEY
    link_keys: str = ""
    # the service's public address, for the links the engine mails (user-task property linkTo)
    base_url: str = "http://127.0.0.1:5000"
    # webhook targets by name (service operator ``webhook``, parameter ``target``): AMFLOW_<NAME>_WEBHOOK_URL,
    # e.g. AMFLOW_FM_WEBHOOK_URL for target 'fm'; only these URLs ever receive case data
    webhook_urls: Mapping[str, str] = field(default_factory=dict)

    def as_flask_config(self) -> dict[str, Any]:
        """The settings as Flask config keys (`DATABASE_URL`, `SECRET_KEY`, ...)."""
        return {f.name.upper(): getattr(self, f.name) for f in fields(self)}


_FIELDS = {f.name.upper(): f for f in fields(Config)}


def load_config(overrides: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None) -> Config:
    """Build and validate the configuration; `overrides` uses the Flask keys (`DATABASE_URL`, `TESTING`)."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {key: environ[ENV_PREFIX + key] for key in _FIELDS if ENV_PREFIX + key in environ}
    unknown = sorted(set(overrides or {}) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"unknown configuration keys: {', '.join(unknown)} (known: {', '.join(_FIELDS)})")
    raw.update(overrides or {})

    instance_path = Path(raw.get("INSTANCE_PATH") or Path.cwd() / "instance").resolve()
    _ensure_directory(instance_path)
    database_url = str(raw.get("DATABASE_URL") or f"sqlite:///{instance_path / 'amflow.db'}")
    _check_database_url(database_url)
    secret_key = str(raw.get("SECRET_KEY") or _stored_secret_key(instance_path))
    if len(secret_key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"{ENV_PREFIX}SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters long")
    log_level, log_format = logging_settings(raw)
    return Config(
        database_url=database_url,
        secret_key=secret_key,
        instance_path=instance_path,
        testing=_as_bool("TESTING", raw.get("TESTING", False)),
        max_content_length=_as_positive_int("MAX_CONTENT_LENGTH", raw.get("MAX_CONTENT_LENGTH", 5 * 1024 * 1024)),
        max_json_length=_as_positive_int("MAX_JSON_LENGTH", raw.get("MAX_JSON_LENGTH", 1024 * 1024)),
        log_level=log_level,
        log_format=log_format,
        metrics=_as_bool("METRICS", raw.get("METRICS", False)),
        smtp_url=_checked_smtp_url(raw.get("SMTP_URL")),
        mail_from=str(raw.get("MAIL_FROM") or "amflow@localhost"),
        worker_interval=_as_positive_float("WORKER_INTERVAL", raw.get("WORKER_INTERVAL", 5.0)),
        link_keys=str(raw.get("LINK_KEYS") or ""),
        base_url=_checked_base_url(raw.get("BASE_URL")),
        webhook_urls=_webhook_urls(raw.get("WEBHOOK_URLS"), environ),
        **_security_settings(raw),
    )


def _checked_base_url(value: Any) -> str:
    url = str(value or "http://127.0.0.1:5000").rstrip("/")
    if not url.startswith(("http://", "https://")) or " " in url:
        raise ConfigError(f"{ENV_PREFIX}BASE_URL must be an http:// or https:// address, not {url!r}")
    return url


WEBHOOK_ENV = re.compile(re.escape(ENV_PREFIX) + r"([A-Z][A-Z0-9_]*)_WEBHOOK_URL")


def _webhook_urls(overrides: Any, environ: Mapping[str, str]) -> dict[str, str]:
    """Target name -> URL: every AMFLOW_<NAME>_WEBHOOK_URL of the environment, then the overrides' mapping."""
    urls = {match.group(1).lower(): value.strip() for key, value in environ.items()
            if (match := WEBHOOK_ENV.fullmatch(key)) and value.strip()}
    urls.update(dict(overrides or {}))
    for name, url in urls.items():
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{ENV_PREFIX}{name.upper()}_WEBHOOK_URL must be an http:// or https:// URL")
    return urls


def logging_settings(raw: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """The checked log level and format, from Flask keys (`LOG_LEVEL`) or, by default, the environment.

    Separate from `load_config` so the command line can set up logging before anything else is read.
    """
    if raw is None:
        raw = {key[len(ENV_PREFIX):]: value for key, value in os.environ.items() if key.startswith(ENV_PREFIX)}
    log_level = str(raw.get("LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"{ENV_PREFIX}LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
    log_format = str(raw.get("LOG_FORMAT") or "text").lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"{ENV_PREFIX}LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    return log_level, log_format


def _security_settings(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Credentials' lifetimes, HTTPS and proxies, and the log-in throttle."""
    defaults = {f.name: f.default for f in fields(Config)}
    positive = ("token_ttl", "session_ttl", "login_max_failures_per_account", "login_max_failures_per_address",
                "login_failure_window")
    settings: dict[str, Any] = {
        name: _as_positive_int(name.upper(), raw.get(name.upper(), defaults[name])) for name in positive
    }
    settings["behind_https"] = _as_bool("BEHIND_HTTPS", raw.get("BEHIND_HTTPS", False))
    proxies = raw.get("TRUSTED_PROXIES", 0)
    settings["trusted_proxies"] = 0 if proxies in (0, "0", "") else _as_positive_int("TRUSTED_PROXIES", proxies)
    return settings


def _ensure_directory(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"{ENV_PREFIX}INSTANCE_PATH {path} cannot be created: {error}") from error


def _check_database_url(url: str) -> None:
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ConfigError(f"{ENV_PREFIX}DATABASE_URL is not a database URL: {url!r}") from error
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        _ensure_directory(Path(parsed.database).resolve().parent)


def _stored_secret_key(instance_path: Path) -> str:
    """Read the generated key from `instance/secret_key`, creating it (mode 0600) on first start."""
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        # Written to a private temporary file, then linked into place: a concurrent start-up either
        # wins the link or reads the winner's complete key, never a half-written one.
        candidate = instance_path / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as stream:
            stream.write(secrets.token_urlsafe(48))
        try:
            key_file.hardlink_to(candidate)
        except FileExistsError:
            pass
        finally:
            candidate.unlink()
    return key_file.read_text(encoding="ascii").strip()


def _checked_smtp_url(value: Any) -> str | None:
    if not value:
        return None
    try:
        SmtpSettings.from_url(str(value))
    except ValueError as error:
        raise ConfigError(f"{ENV_PREFIX}SMTP_URL: {error}") from error
    return str(value)


def _as_positive_float(key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{ENV_PREFIX}{key} must be a number of seconds, not {value!r}") from None
    if not number > 0:
        raise ConfigError(f"{ENV_PREFIX}{key} must be greater than 0, not {value!r}")
    return number


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{ENV_PREFIX}{key} must be true or false, not {value!r}")


def _as_positive_int(key: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{ENV_PREFIX}{key} must be a whole number, not {value!r}") from error
    if number <= 0:
        raise ConfigError(f"{ENV_PREFIX}{key} must be positive, not {number}")
    return number
