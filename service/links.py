"""The signing keys of the links for people without an account, from the configuration."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from flask import current_app

import processes


def link_keys() -> processes.LinkKeys:
    """LINK_KEYS ("kid:secret,kid:secret", first one current), or one key "k1" derived from SECRET_KEY."""
    return keys_from(current_app.config)


def configure_engine_links(database: processes.Database, config: Mapping[str, Any]) -> None:
    """Let the engine mail signed links (user-task property linkTo) with these keys and the BASE_URL."""
    processes.configure_links(database, keys_from(config), str(config.get("BASE_URL") or "http://127.0.0.1:5000"))


def keys_from(config: Mapping[str, Any]) -> processes.LinkKeys:
    """The link keys of a configuration given as Flask keys (LINK_KEYS, SECRET_KEY)."""
    configured = str(config.get("LINK_KEYS") or "").strip()
    if not configured:
        derived = hashlib.sha256(b"amflow links\0" + str(config["SECRET_KEY"]).encode()).hexdigest()
        return processes.LinkKeys({"k1": derived}, "k1")
    pairs = [item.split(":", 1) for item in configured.split(",") if item.strip()]
    keys = {kid.strip(): secret.strip() for kid, secret in pairs}
    return processes.LinkKeys(keys, pairs[0][0].strip())
