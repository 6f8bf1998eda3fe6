"""Signed links that go into every email: unsubscribe, preferences, feedback, web view.

Tokens are itsdangerous signatures of the subscriber id (and the paper for feedback), so
the web site can trust them without a database lookup of the token itself, and a tampered
token fails verification. Each purpose has its own salt: an unsubscribe token cannot be
replayed as a preferences token.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer

from digest.errors import InputError

PURPOSES = ("unsubscribe", "preferences", "feedback", "view")


class LinkSigner:
    def __init__(self, secret_key: str, base_url: str):
        self.base_url = base_url.rstrip("/")
        self._serializers = {
            purpose: URLSafeSerializer(secret_key, salt=f"digest.{purpose}") for purpose in PURPOSES
        }

    def token(self, purpose: str, payload: object) -> str:
        return self._serializers[purpose].dumps(payload)

    def verify(self, purpose: str, token: str) -> object:
        try:
            return self._serializers[purpose].loads(token)
        except BadSignature:
            raise InputError(f"invalid or tampered {purpose} link") from None

    def for_recipient(self, subscriber_id: int, edition_key: str) -> RecipientLinks:
        return RecipientLinks(
            unsubscribe=f"{self.base_url}/u/{self.token('unsubscribe', subscriber_id)}",
            preferences=f"{self.base_url}/p/{self.token('preferences', subscriber_id)}",
            view_online=(
                f"{self.base_url}/v/{quote(edition_key, safe='')}/"
                f"{self.token('view', [subscriber_id, edition_key])}"
            ),
        )

    def feedback(self, subscriber_id: int, paper_id: str, vote: str) -> str:
        return f"{self.base_url}/f/{self.token('feedback', [subscriber_id, paper_id, vote])}"


@dataclass(frozen=True, slots=True)
class RecipientLinks:
    unsubscribe: str
    preferences: str
    view_online: str
