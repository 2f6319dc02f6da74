"""The HTTP image fetcher for deployments: the web layer's half of ``enrichment.images`` (enrichment
holds no HTTP client). Each fetch has a timeout (connect and each read) and a byte cap; it reads no
more than the cap plus one byte whatever the server says.
"""

from __future__ import annotations

import urllib.error
import urllib.request

from enrichment.images import Fetcher, ImageError

_CHUNK = 64 * 1024


def http_fetcher(timeout: float, user_agent: str = "Mouseion enrichment") -> Fetcher:
    """``fetch(iri, max_bytes) -> bytes`` over HTTP(S)."""

    def fetch(iri: str, max_bytes: int) -> bytes:
        request = urllib.request.Request(iri, headers={"User-Agent": user_agent, "Accept": "image/*"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                declared = response.headers.get("Content-Length")
                if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                    raise ImageError(f"{iri}: {declared} bytes exceeds MOUSEION_IMAGE_MAX_BYTES ({max_bytes})")
                chunks, size = [], 0
                while True:
                    chunk = response.read(min(_CHUNK, max_bytes + 1 - size))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > max_bytes:
                        raise ImageError(f"{iri}: more than MOUSEION_IMAGE_MAX_BYTES ({max_bytes}) bytes")
                return b"".join(chunks)
        except urllib.error.HTTPError as error:
            raise ImageError(f"{iri}: HTTP {error.code} {error.reason}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ImageError(f"{iri}: cannot fetch: {reason}") from None

    return fetch
