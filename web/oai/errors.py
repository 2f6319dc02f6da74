"""The OAI-PMH error conditions (spec section 3.6), one class each, so handlers raise what the spec names.

One error shape for the protocol: an ``<error code="...">message</error>`` in an OAI-PMH response with
HTTP status 200 (the protocol's own convention; harvesters read the code, not the status).
"""

from __future__ import annotations


class OAIError(Exception):
    code = "badArgument"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadArgument(OAIError):
    code = "badArgument"


class BadResumptionToken(OAIError):
    code = "badResumptionToken"


class BadVerb(OAIError):
    code = "badVerb"


class CannotDisseminateFormat(OAIError):
    code = "cannotDisseminateFormat"


class IdDoesNotExist(OAIError):
    code = "idDoesNotExist"


class NoRecordsMatch(OAIError):
    code = "noRecordsMatch"


class NoMetadataFormats(OAIError):
    code = "noMetadataFormats"


class NoSetHierarchy(OAIError):
    code = "noSetHierarchy"


#: every error code of the specification, for tests and documentation
CODES = [cls.code for cls in (BadArgument, BadResumptionToken, BadVerb, CannotDisseminateFormat,
                              IdDoesNotExist, NoRecordsMatch, NoMetadataFormats, NoSetHierarchy)]
