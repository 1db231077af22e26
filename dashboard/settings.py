"""Deployment settings: read from the environment once when the app is built, kept on the app.

Every reader asks :func:`current_settings` (the app's settings, the environment outside an app).

| variable               | default                          | meaning                                     |
|------------------------|----------------------------------|---------------------------------------------|
| PORT                   | 8050                             | port of the web server                      |
| HOST                   | 127.0.0.1                        | bind address of ``python -m dashboard``     |
| CNNVIZ_STORE           | artifacts/runs in the checkout   | the artifact store                          |
| CNNVIZ_CACHE_DIR       | .cache/background in the checkout| DiskcacheManager's folder                   |
| REDIS_URL              | (unset)                          | use CeleryManager with this Redis           |
| CNNVIZ_ALLOW_TRAINING  | 1                                | 0 turns the Train button off                |
| CNNVIZ_BASIC_AUTH      | (unset)                          | "user:password" protects the whole app      |
| CNNVIZ_DEBUG           | 0                                | Dash debug mode (never in production)       |
| CNNVIZ_MAX_UPLOAD_MB   | 2                                | largest accepted upload                     |
| CNNVIZ_SECRET_KEY      | (derived, see below)             | signs background-callback handles (>= 16    |
|                        |                                  | characters); the same for every web worker  |

Without ``CNNVIZ_SECRET_KEY`` every web worker still agrees on one secret (never a
per-process random one, which loses Train outcomes with several workers): with Redis
it is derived from ``REDIS_URL`` and the store path (only as secret as the Redis URL);
without, it is random and kept in ``CNNVIZ_CACHE_DIR``. See dashboard/training/background.py.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from artifacts import default_root
from artifacts.backend import RemotePath
from artifacts.store import DEFAULT_ROOT, store_location

CHECKOUT = Path(__file__).resolve().parent.parent
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}
APP_CONFIG_KEY = "CNNVIZ_SETTINGS"  # where the app keeps its Settings in the Flask config


class SettingsError(ValueError):
    """An environment variable with a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Typed deployment settings; see the module docstring for the variables."""

    port: int = 8050
    host: str = "127.0.0.1"
    store_root: Path | RemotePath = dataclasses.field(default_factory=lambda: _default_store())  # or s3://...
    cache_dir: Path = CHECKOUT / ".cache" / "background"
    redis_url: str | None = None
    allow_training: bool = True
    basic_auth: tuple[str, str] | None = None
    debug: bool = False
    max_upload_bytes: int = 2 * 1024 * 1024
    secret_key: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``environ`` (default ``os.environ``).

        Raises:
            SettingsError: a value of the wrong type (names the variable).
        """
        env = os.environ if environ is None else environ
        store = env.get("CNNVIZ_STORE", "").strip()
        cache = env.get("CNNVIZ_CACHE_DIR", "").strip()
        return cls(
            port=_int(env, "PORT", 8050, 1, 65535),
            host=env.get("HOST", "127.0.0.1").strip() or "127.0.0.1",
            store_root=_store(store),
            cache_dir=Path(cache).expanduser() if cache else CHECKOUT / ".cache" / "background",
            redis_url=env.get("REDIS_URL", "").strip() or None,
            allow_training=_bool(env, "CNNVIZ_ALLOW_TRAINING", True),
            basic_auth=_auth(env.get("CNNVIZ_BASIC_AUTH", "")),
            debug=_bool(env, "CNNVIZ_DEBUG", False),
            max_upload_bytes=_int(env, "CNNVIZ_MAX_UPLOAD_MB", 2, 1, 50) * 1024 * 1024,
            secret_key=_secret(env.get("CNNVIZ_SECRET_KEY", "")),
        )


def _default_store() -> Path | RemotePath:
    try:
        return default_root()
    except ValueError:  # a malformed CNNVIZ_STORE: Settings.from_env reports it
        return DEFAULT_ROOT


def _store(value: str) -> Path | RemotePath:
    if not value:
        return default_root()
    try:
        return store_location(value)
    except ValueError as error:
        raise SettingsError(f"CNNVIZ_STORE: {error}") from None


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, not {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be from {low} to {high}, not {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise SettingsError(f"{name} must be 1 or 0, not {raw!r}")


def _auth(raw: str) -> tuple[str, str] | None:
    if not raw.strip():
        return None
    user, sep, password = raw.partition(":")
    if not sep or not user or not password:
        raise SettingsError("CNNVIZ_BASIC_AUTH must look like 'user:password'")
    return user, password


def _secret(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if len(value) < 16:
        raise SettingsError("CNNVIZ_SECRET_KEY must be at least 16 characters long")
    return value


def current_settings() -> Settings:
    """Return the settings in force: the app's inside a Flask app or request context, else the environment's.

    The app keeps the settings it was built with (``app.server.config[APP_CONFIG_KEY]``,
    see :func:`dashboard.app.create_app`); code running outside any app (a command line,
    a background job's process) reads the environment, which is never written to.

    Raises:
        SettingsError: read from the environment, a value of the wrong type.
    """
    from flask import current_app, has_app_context

    if has_app_context():
        settings = current_app.config.get(APP_CONFIG_KEY)
        if isinstance(settings, Settings):
            return settings
    return Settings.from_env()
