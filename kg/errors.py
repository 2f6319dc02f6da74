"""The few domain exceptions; each boundary (CLI, HTTP) translates them once."""

from __future__ import annotations


class MouseionError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(MouseionError):
    """A setting or command-line option is unusable."""


class StoreError(MouseionError):
    """The store cannot be opened, read or written."""


class NotFound(MouseionError):
    """A record, graph or resource does not exist."""


class InputError(MouseionError):
    """Input that cannot be read: names the file, the record and the place where known.

    >>> str(InputError("not well-formed (invalid token)", file="a.xml", line=3, column=7))
    'a.xml:3:7: not well-formed (invalid token)'
    >>> str(InputError("literal of 52428800 bytes exceeds 1048576", file="b.nt", record="obj/1"))
    'b.nt: record obj/1: literal of 52428800 bytes exceeds 1048576'
    """

    def __init__(self, message: str, *, file: str | None = None, record: str | None = None,
                 line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.record = record
        self.line = line
        self.column = column

    def where(self) -> str:
        place = self.file or ""
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        if self.record:
            place += f"{': ' if place else ''}record {self.record}"
        return place

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message
