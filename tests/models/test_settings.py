"""Settings: every FOLLOWUP_ variable is checked when read, and a wrong one is named."""

import pytest
from pydantic import ValidationError

from models.settings import Settings


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FOLLOWUP_TIMEZONE", "Mars/Base", "unknown time zone 'Mars/Base'"),
        ("FOLLOWUP_TIMEZONE", "", "unknown time zone ''"),
        ("FOLLOWUP_PUBLIC_URL", "reply.example.no", "is not a web address"),
        ("FOLLOWUP_PUBLIC_URL", "ftp://x", "is not a web address"),
        ("FOLLOWUP_SECRET_KEY", "", "reply links could be forged"),
        ("FOLLOWUP_SECRET_KEY", "hemmelig", "reply links could be forged"),
        ("FOLLOWUP_SECRET_KEY_PREVIOUS", "x" * 40 + ",kort", "would verify forged links"),
        ("FOLLOWUP_DELIVERY", "sms", "'channels' or 'outbox'"),
        ("FOLLOWUP_DELIVERY_RETRY_AFTER_SECONDS", "inf", "finite number"),
        ("FOLLOWUP_DELIVERY_RETRY_AFTER_SECONDS", "99999999", "less than or equal"),
        ("FOLLOWUP_DELIVERY_BACKOFF_SECONDS", "nan", "finite number"),
        ("FOLLOWUP_DELIVERY_TRIES_PER_RUN", "0", "greater than or equal to 1"),
        ("FOLLOWUP_DATABASE_URL", "mysql://kari:pw@db/followup", "mysql is not supported"),
        ("FOLLOWUP_DATABASE_URL", "postgresql+asyncpg://db/x", "asyncpg is not supported"),
        ("FOLLOWUP_DATABASE_URL", "sqlite://", "in-memory SQLite database keeps nothing"),
        ("FOLLOWUP_DATABASE_URL", "no url at all", "not a database URL"),
    ],
)
def test_a_wrong_value_is_refused_naming_it(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_a_data_folder_that_is_a_file_is_refused(monkeypatch, tmp_path):
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path / "a-file"))
    with pytest.raises(ValidationError, match="is a file, not a folder"):
        Settings()


def test_good_values_are_taken_and_the_public_url_loses_its_trailing_slash(monkeypatch):
    monkeypatch.setenv("FOLLOWUP_PUBLIC_URL", "https://svar.example.no/")
    monkeypatch.setenv("FOLLOWUP_SECRET_KEY", "k" * 32)
    monkeypatch.setenv("FOLLOWUP_TIMEZONE", "Europe/Oslo")
    settings = Settings()
    assert settings.public_url == "https://svar.example.no"
    assert settings.secret_key.get_secret_value() == "k" * 32


def test_a_wrong_value_is_not_echoed(monkeypatch):
    """A URL may carry a password: the error names the variable, never the value."""
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", "mysql://kari:hemmelig@db/followup")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "hemmelig" not in str(refused.value)


def test_the_supported_databases_are_taken(monkeypatch, tmp_path):
    for url in [f"sqlite:///{tmp_path}/f.db", "postgresql://u@h/db", "postgresql+psycopg://u@h/db"]:
        monkeypatch.setenv("FOLLOWUP_DATABASE_URL", url)
        assert Settings().database_url == url
