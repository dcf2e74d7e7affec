"""Signed reply links: a token names one round and one contact, and nothing else.

Tokens are signed with FOLLOWUP_SECRET_KEY (older keys in FOLLOWUP_SECRET_KEY_PREVIOUS still
verify, so keys can be rotated without breaking links already sent). Without a configured
key a random one is generated once and kept in the data folder (mode 0600). A token does
not expire by itself: it stops working when its round is closed, which the caller checks."""

import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer

from models.settings import Settings, get_settings

SALT = "followup-reply-link"


class BadToken(ValueError):
    """A token that was not signed by us, or was altered."""


@dataclass(frozen=True)
class ReplyToken:
    round_id: int
    contact_id: int


def signing_keys(settings: Settings | None = None) -> list[str]:
    """Verification keys, oldest first; the last one signs."""
    settings = settings or get_settings()
    previous = [k.strip() for k in (settings.secret_key_previous or "").split(",") if k.strip()]
    if settings.secret_key is not None:
        return [*previous, settings.secret_key.get_secret_value()]
    return [*previous, _generated_key(settings.data_dir)]


@lru_cache
def _generated_key(data_dir: Path) -> str:
    """The demo's key, generated once in the data folder (read once per process: it never
    changes, and reading it on every page cost a file read per request)."""
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(key, encoding="utf-8")
        tmp.chmod(0o600)
        try:
            tmp.rename(path) if not path.exists() else tmp.unlink()
        except FileExistsError:
            tmp.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip()


def _serializer(settings: Settings | None) -> URLSafeSerializer:
    return _serializer_for(tuple(signing_keys(settings)))


@lru_cache(maxsize=16)
def _serializer_for(keys: tuple[str, ...]) -> URLSafeSerializer:
    """One serializer per set of keys: a page view verifies a token, and building the
    serializer (key derivation for each key) costs more than the check itself."""
    return URLSafeSerializer(list(keys), salt=SALT)


def make_token(round_id: int, contact_id: int, settings: Settings | None = None) -> str:
    return _serializer(settings).dumps([round_id, contact_id])


def read_token(token: str, settings: Settings | None = None) -> ReplyToken:
    try:
        round_id, contact_id = _serializer(settings).loads(token)
        return ReplyToken(int(round_id), int(contact_id))
    except (BadSignature, ValueError, TypeError):
        raise BadToken("this link is not valid") from None


def reply_url(round_id: int, contact_id: int, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    token = make_token(round_id, contact_id, settings)
    return f"{settings.public_url.rstrip('/')}/r/{round_id}/{token}"


def public_path(path: str, settings: Settings | None = None) -> str:
    """An address of the reply app as people's browsers see it: ``path`` under the path of
    FOLLOWUP_PUBLIC_URL (``/followup/r/…`` when a proxy serves the app at /followup)."""
    prefix = urlsplit((settings or get_settings()).public_url).path.rstrip("/")
    return f"{prefix}{path}"
