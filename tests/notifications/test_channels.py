"""Channels: addresses and references resolved to Apprise URLs; secrets never shown."""

from pathlib import Path

import pytest

from notifications.channels import ChannelError, redact, resolve

OUTBOX = Path("/tmp/outbox-test")


def resolve_with(channel, mail_url=None, everything_to_outbox=False, load_secret=None):
    return resolve(
        channel,
        outbox=OUTBOX,
        mail_url=mail_url,
        everything_to_outbox=everything_to_outbox,
        load_secret=load_secret,
    )


def test_email_goes_through_the_mail_server_when_one_is_set():
    url = resolve_with("kari@example.org", mail_url="mailto://smtp.example.org?from=f@example.org")
    assert url == "mailto://smtp.example.org?from=f@example.org&to=kari@example.org"


def test_email_goes_to_the_outbox_without_a_mail_server():
    assert resolve_with("kari@example.org").startswith(
        "outbox://?path=%2Ftmp%2Foutbox-test&to=kari"
    )


def test_delivery_outbox_overrides_every_channel(monkeypatch):
    monkeypatch.setenv("KARI_TEAMS", "workflows://secret-token")
    assert resolve_with("env:KARI_TEAMS", everything_to_outbox=True).startswith("outbox://")


def test_env_and_secret_references(monkeypatch):
    monkeypatch.setenv("KARI_HOOK", "json://hooks.example.org/abc?token=s3cret")
    assert resolve_with("env:KARI_HOOK") == "json://hooks.example.org/abc?token=s3cret"
    with pytest.raises(ChannelError, match="environment variable NOPE is not set"):
        resolve_with("env:NOPE")
    assert (
        resolve_with("secret:kari", load_secret=lambda name: f"json://x/{name}") == "json://x/kari"
    )


def test_redact_keeps_scheme_and_host_only():
    assert (
        redact("mailtos://user:pw@smtp.example.org:587?to=a@b.no") == "mailtos://smtp.example.org/…"
    )
    assert redact("workflows://tok3n/abc") == "workflows://…"  # a token where a host would be
    assert "s3cret" not in redact("json://hooks.example.org/abc?token=s3cret")


def test_a_channel_is_shown_without_its_secrets():
    from notifications.channels import shown_channel

    assert shown_channel("kari@example.org") == "kari@example.org"
    assert shown_channel("env:TEAMS_URL") == "env:TEAMS_URL"
    assert shown_channel("secret:teams-kari") == "secret:teams-kari"
    shown = shown_channel("mailto://user:hemmelig@smtp.example.org:587?to=kari@example.org")
    assert "hemmelig" not in shown and shown.startswith("mailto://smtp.example.org")
    assert "tok" not in shown_channel("slack://tokA/tokB/tokC")
