"""Resumption tokens that carry their own state (spec section 3.5).

A token is the harvest's whole state — verb, metadataPrefix, set, from, the ``until`` frozen at the
first request, the last position listed (datestamp, key), the cursor, completeListSize and the
expiry — as compact JSON, base64url-encoded and signed with HMAC-SHA256. Nothing is kept on the
server, so a token stays valid across restarts (and across processes sharing the key); a forged,
altered, truncated or expired token fails the signature or expiry check and is answered with
``badResumptionToken``.

>>> signer = Signer(b"k" * 32)
>>> token = signer.encode(HarvestState("ListRecords", "edm", None, None, "2026-01-01T00:00:00Z",
...                                    ("2025-12-31T10:00:00Z", "tate/A1"), 100, 250, 4102444800))
>>> signer.decode(token).position
('2025-12-31T10:00:00Z', 'tate/A1')
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from web.oai.errors import BadResumptionToken

#: the key file in the store directory, made once when no MOUSEION_OAI_TOKEN_SECRET is set
KEY_FILE = "oai-token.key"


@dataclass(frozen=True)
class HarvestState:
    verb: str
    prefix: str
    set: str | None
    since: str | None
    until: str
    position: tuple[str, str]
    cursor: int
    size: int
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, key: bytes) -> None:
        self.key = key

    @classmethod
    def for_store(cls, secret: str, store_path: Path | None) -> "Signer":
        """The configured secret; else a key kept in the store directory (made once); else a random one
        (an in-memory store: its tokens could not outlive it anyway)."""
        if secret:
            return cls(secret.encode("utf-8"))
        if store_path is None:
            return cls(secrets.token_bytes(32))
        path = Path(store_path) / KEY_FILE
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_bytes(32))
        return cls(path.read_bytes())

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self.key, body.encode("ascii"), hashlib.sha256).digest()[:18])

    def encode(self, state: HarvestState) -> str:
        fields = asdict(state)
        fields["position"] = list(state.position)
        body = _b64(json.dumps(list(fields.values()), separators=(",", ":")).encode("utf-8"))
        return f"{body}.{self._mac(body)}"

    def decode(self, token: str, *, now: int | None = None) -> HarvestState:
        body, _, mac = token.partition(".")
        if not body or not mac or not hmac.compare_digest(mac, self._mac(body) if body.isascii() else ""):
            raise BadResumptionToken("the resumptionToken is not one this repository issued (signature check failed)")
        try:
            values = json.loads(_unb64(body))
            state = HarvestState(*values)
            state = HarvestState(**{**asdict(state), "position": tuple(state.position)})
        except (ValueError, TypeError) as error:
            raise BadResumptionToken(f"the resumptionToken cannot be read: {error}") from None
        if now is not None and state.expires < now:
            raise BadResumptionToken("the resumptionToken has expired: start the harvest again")
        return state
