"""Ingest readers: each turns one source (a file, or a member of an archive) into records.

A reader is a function ``read(source, ctx) -> Iterator[Record | Vocabulary | Rejection]``. It yields a
``Rejection`` for a record it cannot read and carries on with the next one; a source that cannot
be read at all yields a single ``Rejection`` naming the file (and line, where the parser says).
Readers never touch the store and never validate against SHACL: ``kg.ingest`` does both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Union

from kg.record import Record, Rejection, Uris, Vocabulary
from kg.settings import Settings


@dataclass(frozen=True)
class Source:
    """Bytes to read and the name to report them by (``path`` or ``archive.zip!member``).

    A file read as a stream (``kg.sources.STREAMED_FORMATS``) has a ``path``: the reader opens it, and
    ``data`` holds only the file's first bytes, enough for ``kg.sources.detect_format``.
    """

    name: str
    data: bytes
    path: Path | None = None


@dataclass(frozen=True)
class ReadContext:
    uris: Uris
    settings: Settings
    #: dataset name given on the command line; a reader derives one from the source when None
    dataset: str | None = None


Item = Union[Record, Vocabulary, Rejection]
Reader = Callable[[Source, ReadContext], Iterator[Item]]
