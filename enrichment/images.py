"""Reading and decoding the images of records, with guards: an image that cannot be used is skipped
with a reason, and the run goes on.

Where images come from: a record's ``file:`` IRIs are read only under the folders of the setting
``MOUSEION_IMAGE_ROOTS``; ``http(s):`` IRIs only through a fetcher the caller hands over (the CLI
gives the one in ``web.image_fetch`` when ``MOUSEION_IMAGE_FETCH`` is on — enrichment itself holds no
HTTP client). Every read is capped at ``MOUSEION_IMAGE_MAX_BYTES``; the pixel count is checked from
the header, before any pixel is decoded (a 40000 x 40000 PNG header costs nothing).

>>> reader = ImageReader(roots=[], max_bytes=1000, max_pixels=100)
>>> reader.read_bytes("file:///etc/passwd")
Traceback (most recent call last):
enrichment.images.ImageError: file:///etc/passwd: not under a folder of MOUSEION_IMAGE_ROOTS
>>> reader.decode(b"not an image", "x.jpg")
Traceback (most recent call last):
enrichment.images.ImageError: x.jpg: not an image (cannot identify image file)
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import unquote, urlsplit

from kg.errors import MouseionError

#: fetch(iri, max_bytes) -> bytes; raises ImageError
Fetcher = Callable[[str, int], bytes]


class ImageError(MouseionError):
    """An image that cannot be used; the message names it and says why."""


@dataclass
class ImageReader:
    roots: Sequence[str | Path]
    max_bytes: int
    max_pixels: int
    fetch: Fetcher | None = None
    _resolved: list[Path] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._resolved = [Path(r).resolve() for r in self.roots if str(r)]

    @classmethod
    def from_settings(cls, settings, fetch: Fetcher | None = None) -> "ImageReader":
        roots = [r for r in settings.image_roots.split(os.pathsep) if r] if settings.image_roots else []
        return cls(roots, settings.image_max_bytes, settings.image_max_pixels,
                   fetch if settings.image_fetch else None)

    # ---------------------------------------------------------------- bytes

    def read_bytes(self, iri: str) -> bytes:
        scheme = urlsplit(iri).scheme.lower()
        if scheme == "file":
            return self._read_file(iri)
        if scheme in ("http", "https"):
            if self.fetch is None:
                raise ImageError(f"{iri}: fetching images over HTTP is off (MOUSEION_IMAGE_FETCH)")
            return self.fetch(iri, self.max_bytes)
        raise ImageError(f"{iri}: cannot read images from {scheme or 'a relative IRI'}")

    def local_path(self, iri: str) -> Path:
        """The file a ``file:`` IRI names, when it lies under an allowed root (symbolic links resolved)."""
        parts = urlsplit(iri)
        if parts.netloc not in ("", "localhost"):
            raise ImageError(f"{iri}: file IRIs on another host are not read")
        path = Path(unquote(parts.path)).resolve()
        if not any(path == root or root in path.parents for root in self._resolved):
            raise ImageError(f"{iri}: not under a folder of MOUSEION_IMAGE_ROOTS")
        return path

    def _read_file(self, iri: str) -> bytes:
        path = self.local_path(iri)
        try:
            size = path.stat().st_size
            if size > self.max_bytes:
                raise ImageError(f"{iri}: {size} bytes exceeds MOUSEION_IMAGE_MAX_BYTES ({self.max_bytes})")
            with path.open("rb") as handle:
                return handle.read(self.max_bytes + 1)
        except OSError as error:
            raise ImageError(f"{iri}: cannot read: {error.strerror or error}") from None

    # ---------------------------------------------------------------- pixels

    def decode(self, data: bytes, what: str, *, draft_size: int | None = None):
        """An RGB ``PIL.Image`` from encoded bytes, or ImageError. ``draft_size`` lets JPEG decoding
        skip detail below that size (what CLIP's preprocessing would throw away anyway)."""
        from PIL import Image, UnidentifiedImageError
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise ImageError(f"{what}: not an image (cannot identify image file)") from None
        except Image.DecompressionBombError as error:
            # Pillow's own guard fires on the header alone, before ours could: same verdict
            claimed = re.search(r"\((\d+) pixels\)", str(error))
            raise ImageError(f"{what}: image header claims {claimed.group(1) if claimed else 'too many'} pixels, "
                             f"exceeds MOUSEION_IMAGE_MAX_PIXELS ({self.max_pixels})") from None
        except (OSError, ValueError, SyntaxError) as error:
            raise ImageError(f"{what}: unreadable image header: {error}") from None
        width, height = image.size
        if width <= 0 or height <= 0:
            raise ImageError(f"{what}: image has no pixels ({width}x{height})")
        if width * height > self.max_pixels:
            raise ImageError(f"{what}: image of {width}x{height} pixels exceeds MOUSEION_IMAGE_MAX_PIXELS "
                             f"({self.max_pixels})")
        try:
            if draft_size and image.format == "JPEG":
                image.draft("RGB", (draft_size, draft_size))
            image.load()
            return image.convert("RGB")
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
            raise ImageError(f"{what}: cannot decode image: {error}") from None

    def open(self, iri: str, *, draft_size: int | None = None):
        return self.decode(self.read_bytes(iri), iri, draft_size=draft_size)
