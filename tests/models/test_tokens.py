"""Signed reply links."""

import stat

import pytest

from models.settings import Settings
from models.tokens import BadToken, make_token, read_token, reply_url


def long(name: str) -> str:
    """A key of the length settings ask for, named for the test."""
    return f"{name}-{'0123456789' * 4}"


def settings(tmp_path, key=None, previous=None) -> Settings:
    return Settings(data_dir=tmp_path, secret_key=key, secret_key_previous=previous)


def test_a_token_names_its_round_and_contact(tmp_path):
    s = settings(tmp_path, key=long("k1"))
    claim = read_token(make_token(7, 42, s), s)
    assert (claim.round_id, claim.contact_id) == (7, 42)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # tampered signature
        lambda t: "WzcsNDNd" + t[t.index(".") :],  # payload for another contact, old signature
        lambda t: "",
        lambda t: "not-a-token",
    ],
)
def test_tampered_or_forged_tokens_are_refused(tmp_path, mangle):
    s = settings(tmp_path, key=long("k1"))
    with pytest.raises(BadToken):
        read_token(mangle(make_token(7, 42, s)), s)


def test_a_token_signed_with_another_key_is_refused(tmp_path):
    with pytest.raises(BadToken):
        read_token(
            make_token(7, 42, settings(tmp_path, key=long("attacker"))),
            settings(tmp_path, long("k1")),
        )


def test_rotation_old_keys_still_verify_new_key_signs(tmp_path):
    old = make_token(7, 42, settings(tmp_path, key=long("old-key")))
    rotated = settings(
        tmp_path, key=long("new-key"), previous=f"{long('older-key')}, {long('old-key')}"
    )
    assert read_token(old, rotated).contact_id == 42
    fresh = make_token(7, 42, rotated)
    with pytest.raises(BadToken):
        read_token(fresh, settings(tmp_path, key=long("old-key")))


def test_without_a_configured_key_one_is_generated_and_kept_private(tmp_path):
    s = settings(tmp_path)
    token = make_token(1, 2, s)
    key_file = tmp_path / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert read_token(token, settings(tmp_path)).round_id == 1  # the same key next time


def test_reply_url_starts_with_the_public_url(tmp_path):
    s = Settings(data_dir=tmp_path, secret_key=long("k"), public_url="https://svar.example.org/")
    assert reply_url(3, 4, s).startswith("https://svar.example.org/r/3/")
