"""Settings: the contract's variable names, defaults, and refusals."""

import pytest

from app.config import Settings
from app.errors import ConfigError


def test_defaults_are_the_contract_defaults():
    settings = Settings.from_mapping({})
    assert settings.setup_mode
    assert settings.github_api_url == "https://api.github.com"
    assert settings.foureyes_url == "http://localhost:3000"
    assert settings.check_name == "foureyes"
    assert settings.redis_url is None
    assert settings.broker_url.startswith("sqla+sqlite:///")
    assert settings.database_url.startswith("sqlite:///")
    assert settings.trusted_issuers == ()


def test_private_key_from_path_and_escaped_newlines(tmp_path):
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN KEY-----\nabc\n-----END KEY-----\n")
    settings = Settings.from_mapping(
        {"APP_ID": "7", "PRIVATE_KEY_PATH": str(key), "WEBHOOK_SECRET": "s"}
    )
    assert settings.private_key == key.read_text()
    settings.require_runnable()
    inline = Settings.from_mapping({"PRIVATE_KEY": "a\\nb"})
    assert inline.private_key == "a\nb"


def test_secrets_are_not_in_repr():
    settings = Settings.from_mapping(
        {
            "APP_ID": "7",
            "PRIVATE_KEY": "KEYMATERIAL",
            "WEBHOOK_SECRET": "hushhush",
            "FOUREYES_ADMIN_TOKEN": "admintoken",
        }
    )
    text = repr(settings)
    assert "KEYMATERIAL" not in text and "hushhush" not in text and "admintoken" not in text


@pytest.mark.parametrize(
    "env, message",
    [
        ({"APP_ID": "seven"}, "APP_ID must be a number"),
        ({"APP_ID": "7", "PRIVATE_KEY": "k"}, "WEBHOOK_SECRET is required"),
        ({"APP_ID": "7", "WEBHOOK_SECRET": "s"}, "PRIVATE_KEY"),
        ({"PRIVATE_KEY_PATH": "/nonexistent/key.pem"}, "PRIVATE_KEY_PATH"),
        ({"FOUREYES_TRUSTED_ISSUERS": "{"}, "not JSON"),
        ({"FOUREYES_TRUSTED_ISSUERS": '[{"jwks_uri": "https://x"}]'}, "needs an 'issuer'"),
        ({"FOUREYES_TRUSTED_ISSUERS": '[{"issuer": "https://x", "aud": "y"}]'}, "unknown keys"),
        ({"FOUREYES_TRUSTED_ISSUERS": '[{"issuer": "http://idp.example.com"}]'}, "must be https"),
    ],
)
def test_bad_configuration_is_refused_with_a_reason(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_mapping(env).require_runnable()


def test_trusted_issuers_accept_https_and_loopback_http():
    settings = Settings.from_mapping(
        {
            "FOUREYES_TRUSTED_ISSUERS": '[{"issuer": "https://token.actions.githubusercontent.com"},'
            ' {"issuer": "http://127.0.0.1:8765", "audience": "foureyes-test"}]'
        }
    )
    assert [i.issuer for i in settings.trusted_issuers] == [
        "https://token.actions.githubusercontent.com",
        "http://127.0.0.1:8765",
    ]
    assert settings.trusted_issuers[1].audience == "foureyes-test"


def test_env_file_is_read_and_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        '# comment\nAPP_ID=12\nFOUREYES_CHECK_NAME="gate"\nexport REDIS_URL=redis://x\n'
    )
    settings = Settings.from_env({"FOUREYES_CHECK_NAME": "override"}, env_file=env_file)
    assert settings.app_id == 12
    assert settings.check_name == "override"
    assert settings.redis_url == "redis://x"
