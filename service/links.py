"""The signing keys of the links for people without an account, from the configuration."""

from __future__ import annotations

import hashlib

from flask import current_app

import processes


def link_keys() -> processes.LinkKeys:
    """LINK_KEYS ("kid:secret,kid:secret", first one current), or one key "k1" derived from SECRET_KEY."""
    configured = str(current_app.config.get("LINK_KEYS") or "").strip()
    if not configured:
        derived = hashlib.sha256(b"amflow links\0" + str(current_app.config["SECRET_KEY"]).encode()).hexdigest()
        return processes.LinkKeys({"k1": derived}, "k1")
    pairs = [item.split(":", 1) for item in configured.split(",") if item.strip()]
    keys = {kid.strip(): secret.strip() for kid, secret in pairs}
    return processes.LinkKeys(keys, pairs[0][0].strip())
