"""A small keep-alive HTTP client (stdlib ``http.client``) for talking to the endpoint under test.

One persistent connection per origin: a conformance run sends a couple of thousand small requests
and opening a TCP connection for each would dominate the run time. A request that finds its
connection closed by the server (servers may hang up after an error response) is retried once
on a fresh connection.
"""

from __future__ import annotations

import http.client
import urllib.parse
from dataclasses import dataclass
from email.message import Message

#: Errors that mean "the kept-alive connection is gone", not "the server answered badly".
_STALE = (http.client.RemoteDisconnected, http.client.CannotSendRequest, ConnectionResetError, BrokenPipeError)


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    body: bytes

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters, lower-cased ('' when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def summary(self) -> str:
        """Status and the first line of the body, for a one-line failure reason."""
        text = self.body[:300].decode("utf-8", "replace").strip().splitlines()
        return f"HTTP {self.status}" + (f": {text[0][:160]}" if text else "")


class HttpClient:
    """Sends requests over one kept-alive connection per origin.

    ``token`` is sent as ``Authorization: Bearer`` on every request (the endpoint decides which
    requests need it).
    """

    def __init__(self, token: str | None = None, timeout: float = 60.0):
        self.token = token
        self.timeout = timeout
        self._connections: dict[tuple[str, str], http.client.HTTPConnection] = {}

    def request(self, method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> Response:
        parts = urllib.parse.urlsplit(url)
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        all_headers = dict(headers or {})
        if self.token:
            all_headers.setdefault("Authorization", f"Bearer {self.token}")
        for attempt in (1, 2):
            connection = self._connection(parts.scheme, parts.netloc)
            try:
                connection.request(method, target, body=body, headers=all_headers)
                raw = connection.getresponse()
                payload = raw.read()
            except _STALE:
                self._drop(parts.scheme, parts.netloc)
                if attempt == 2:
                    raise
                continue
            except (OSError, http.client.HTTPException):
                self._drop(parts.scheme, parts.netloc)  # a timeout or broken reply leaves the connection unusable
                raise
            if raw.will_close:
                self._drop(parts.scheme, parts.netloc)
            return Response(raw.status, raw.headers, payload)
        raise AssertionError("unreachable")

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        key = (scheme, netloc)
        if key not in self._connections:
            cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            self._connections[key] = cls(netloc, timeout=self.timeout)
        return self._connections[key]

    def _drop(self, scheme: str, netloc: str) -> None:
        connection = self._connections.pop((scheme, netloc), None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
