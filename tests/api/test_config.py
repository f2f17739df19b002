"""The typed configuration: defaults, AMFLOW_* environment variables, overrides, validated at start-up."""

from __future__ import annotations

import stat

import pytest

from service import ConfigError, create_app
from service.config import load_config


def test_the_defaults_put_the_database_and_a_private_secret_key_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    config = load_config(environ={})

    assert config.instance_path == tmp_path / "instance"
    assert config.database_url == f"sqlite:///{tmp_path / 'instance' / 'amflow.db'}"
    key_file = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert config.secret_key == key_file.read_text().strip()
    assert len(config.secret_key) >= 32


def test_the_generated_secret_key_is_kept_across_starts(tmp_path):
    first = load_config({"INSTANCE_PATH": str(tmp_path)}, environ={})
    second = load_config({"INSTANCE_PATH": str(tmp_path)}, environ={})

    assert first.secret_key == second.secret_key


def test_environment_variables_override_the_defaults(tmp_path):
    environ = {
        "AMFLOW_INSTANCE_PATH": str(tmp_path),
        "AMFLOW_DATABASE_URL": "sqlite:///" + str(tmp_path / "other.db"),
        "AMFLOW_SECRET_KEY": "x" * 40,
        "AMFLOW_MAX_CONTENT_LENGTH": "1000",
        "AMFLOW_MAX_JSON_LENGTH": "500",
    }

    config = load_config(environ=environ)

    assert config.database_url.endswith("other.db")
    assert config.secret_key == "x" * 40
    assert config.max_content_length == 1000
    assert config.max_json_length == 500
    assert not (tmp_path / "secret_key").exists()


def test_overrides_win_over_the_environment(tmp_path):
    environ = {"AMFLOW_INSTANCE_PATH": str(tmp_path), "AMFLOW_SECRET_KEY": "e" * 40}

    config = load_config({"SECRET_KEY": "o" * 40, "TESTING": True}, environ=environ)

    assert config.secret_key == "o" * 40
    assert config.testing is True


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"DATABASE_URL": "not a url"}, "AMFLOW_DATABASE_URL"),
        ({"SECRET_KEY": "short"}, "AMFLOW_SECRET_KEY"),
        ({"MAX_CONTENT_LENGTH": "lots"}, "AMFLOW_MAX_CONTENT_LENGTH"),
        ({"MAX_CONTENT_LENGTH": 0}, "AMFLOW_MAX_CONTENT_LENGTH"),
        ({"MAX_JSON_LENGTH": "-1"}, "AMFLOW_MAX_JSON_LENGTH"),
        ({"TESTING": "perhaps"}, "AMFLOW_TESTING"),
        ({"LOG_LEVEL": "LOUD"}, "AMFLOW_LOG_LEVEL"),
        ({"DATABSE_URL": "sqlite://"}, "DATABSE_URL"),
    ],
)
def test_a_bad_setting_fails_at_start_up_naming_it(tmp_path, overrides, named):
    with pytest.raises(ConfigError, match=named):
        create_app({"INSTANCE_PATH": str(tmp_path), **overrides})


def test_the_app_carries_the_typed_settings_as_flask_config(app, database_url):
    assert app.config["TESTING"] is True
    assert app.config["DATABASE_URL"] == database_url
    assert app.config["MAX_CONTENT_LENGTH"] > 0


def test_the_security_settings_have_safe_defaults_and_refuse_nonsense(tmp_path):
    config = load_config({"INSTANCE_PATH": str(tmp_path)}, environ={})
    assert (config.token_ttl, config.behind_https, config.trusted_proxies) == (24 * 3600, False, 0)

    environ = {"AMFLOW_BEHIND_HTTPS": "1", "AMFLOW_TRUSTED_PROXIES": "1", "AMFLOW_TOKEN_TTL": "3600"}
    config = load_config({"INSTANCE_PATH": str(tmp_path)}, environ=environ)
    assert (config.token_ttl, config.behind_https, config.trusted_proxies) == (3600, True, 1)

    for key, value in [("TOKEN_TTL", "0"), ("LOGIN_FAILURE_WINDOW", "soon"), ("TRUSTED_PROXIES", "-1"),
                       ("BEHIND_HTTPS", "maybe")]:
        with pytest.raises(ConfigError, match=key):
            load_config({"INSTANCE_PATH": str(tmp_path)}, environ={f"AMFLOW_{key}": value})


def test_webhook_targets_come_from_amflow_name_webhook_url_and_the_base_url_is_checked(tmp_path):
    environ = {"AMFLOW_INSTANCE_PATH": str(tmp_path), "AMFLOW_SECRET_KEY": "x" * 40,
               "AMFLOW_FM_WEBHOOK_URL": "https://dalux.example/hooks/amflow", "AMFLOW_BASE_URL": "https://amflow.dtu.dk/"}
    config = load_config(environ=environ)
    assert config.webhook_urls == {"fm": "https://dalux.example/hooks/amflow"}
    assert config.base_url == "https://amflow.dtu.dk"
    assert load_config(environ={"AMFLOW_INSTANCE_PATH": str(tmp_path)}).webhook_urls == {}
    with pytest.raises(ConfigError, match="AMFLOW_FM_WEBHOOK_URL"):
        load_config(environ={**environ, "AMFLOW_FM_WEBHOOK_URL": "file:///etc/passwd"})
    with pytest.raises(ConfigError, match="AMFLOW_BASE_URL"):
        load_config(environ={**environ, "AMFLOW_BASE_URL": "amflow.dtu.dk"})
