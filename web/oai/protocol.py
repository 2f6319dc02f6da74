"""OAI-PMH 2.0 requests → responses: argument checking (spec sections 3.1-3.6) and the six verbs (4).

No HTTP here: ``Repository.respond`` takes the request's arguments as (name, value) pairs — so that a
repeated argument is seen — and returns the response document as bytes.

Harvest guarantee (docs/harvesting.md): a list request freezes ``until`` at its first request (the
second before the response date, or the harvester's own ``until`` when earlier) and pages walk the
change log in (datestamp, key) order, each resuming strictly after the last position listed. A record
changed or deleted during the harvest gets a datestamp after the frozen bound: it is listed at most
once in this harvest (its version as it was, if its page came before the change) and its change is
picked up by the next incremental harvest, whose ``from`` is this harvest's response date.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Sequence
from urllib.parse import urlsplit

from lxml import etree

from kg import harvest
from kg.harvest import ChangeLog, Entry
from web.oai import sets
from web.oai.errors import (BadArgument, BadResumptionToken, BadVerb, CannotDisseminateFormat, IdDoesNotExist,
                            NoMetadataFormats, NoRecordsMatch, NoSetHierarchy, OAIError)
from web.oai.formats import FORMATS
from web.oai.tokens import HarvestState, Signer

OAI = "http://www.openarchives.org/OAI/2.0/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{OAI} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"

#: verb → (required arguments, optional arguments, exclusive argument)
VERBS = {
    "Identify": ((), (), None),
    "ListMetadataFormats": ((), ("identifier",), None),
    "ListSets": ((), (), "resumptionToken"),
    "ListIdentifiers": (("metadataPrefix",), ("from", "until", "set"), "resumptionToken"),
    "ListRecords": (("metadataPrefix",), ("from", "until", "set"), "resumptionToken"),
    "GetRecord": (("identifier", "metadataPrefix"), (), None),
}

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(name: str, value: str, *, end: bool) -> tuple[str, str]:
    """An OAI date argument → (UTC datestamp at seconds granularity, granularity); a day stands for its
    first second (``from``) or its last (``until``)."""
    try:
        if _DAY.match(value):
            day = datetime.strptime(value, "%Y-%m-%d")
            return _stamp(day + timedelta(days=1, seconds=-1) if end else day), "day"
        if _SECOND.match(value):
            return _stamp(datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")), "second"
    except ValueError:
        pass
    raise BadArgument(f"{name}={value!r} is not a UTC date (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)")


@dataclass
class Policy:
    page_size: int = 100
    token_lifetime: int = 7 * 24 * 3600
    suggestions: str = "accepted"
    repository_name: str = "Mouseion"
    admin_email: str = "admin@example.org"


class Repository:
    """One OAI-PMH repository over one store."""

    def __init__(self, store, signer: Signer, policy: Policy, *, base_url: str | None = None) -> None:
        self.store = store
        self.signer = signer
        self.policy = policy
        self.base_url = base_url or f"{store.uris.base}oai"
        self.log = ChangeLog(store)
        host = urlsplit(store.uris.base).hostname or "localhost"
        #: identifiers are oai:{host}:{record key} (the oai-identifier scheme)
        self.id_prefix = f"oai:{host}:"

    # ------------------------------------------------------------------ entry point

    def respond(self, arguments: Sequence[tuple[str, str]], *, now: datetime | None = None) -> bytes:
        now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
        root = etree.Element(f"{{{OAI}}}OAI-PMH", nsmap={None: OAI, "xsi": XSI})
        root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
        etree.SubElement(root, f"{{{OAI}}}responseDate").text = _stamp(now)
        request = etree.SubElement(root, f"{{{OAI}}}request")
        request.text = self.base_url
        try:
            verb, args = self._check(arguments)
            for name, value in [("verb", verb)] + sorted(args.items()):
                request.set(name, value)
            body = getattr(self, f"_{verb}")(args, now)
            root.append(body)
        except OAIError as error:
            if error.code in ("badVerb", "badArgument"):
                request.attrib.clear()  # the spec: a request that is not understood is not echoed
            error_element = etree.SubElement(root, f"{{{OAI}}}error", code=error.code)
            error_element.text = error.message
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def _check(self, arguments: Sequence[tuple[str, str]]) -> tuple[str, dict[str, str]]:
        verbs = [v for k, v in arguments if k == "verb"]
        if not verbs:
            raise BadVerb("the verb argument is missing")
        if len(verbs) > 1:
            raise BadVerb("the verb argument is repeated")
        verb = verbs[0]
        if verb not in VERBS:
            raise BadVerb(f"{verb!r} is not an OAI-PMH verb ({', '.join(VERBS)})")
        required, optional, exclusive = VERBS[verb]
        args: dict[str, str] = {}
        for name, value in arguments:
            if name == "verb":
                continue
            if name in args:
                raise BadArgument(f"argument {name} is repeated")
            if name not in required and name not in optional and name != exclusive:
                raise BadArgument(f"argument {name} is not allowed in {verb}")
            args[name] = value
        if exclusive is not None and exclusive in args:
            if len(args) > 1:
                others = ", ".join(sorted(set(args) - {exclusive}))
                raise BadArgument(f"{exclusive} is an exclusive argument: it cannot come with {others}")
            return verb, args
        missing = [name for name in required if name not in args]
        if missing:
            raise BadArgument(f"{verb} needs the argument {', '.join(missing)}")
        return verb, args

    # ------------------------------------------------------------------ helpers

    def _element(self, tag: str, text: str | None = None, parent=None, **attributes):
        element = etree.Element(f"{{{OAI}}}{tag}", **attributes) if parent is None else \
            etree.SubElement(parent, f"{{{OAI}}}{tag}", **attributes)
        if text is not None:
            element.text = text
        return element

    def _key_of(self, identifier: str) -> str:
        if not identifier.startswith(self.id_prefix) or len(identifier) == len(self.id_prefix):
            raise IdDoesNotExist(f"identifier {identifier!r} is not an identifier of this repository "
                                 f"(they look like {self.id_prefix}tate/A00001)")
        return identifier[len(self.id_prefix):]

    def _item(self, identifier: str) -> Entry:
        item = self.log.describe(self._key_of(identifier))
        if item is None:
            raise IdDoesNotExist(f"identifier {identifier!r} is unknown to this repository")
        return item

    def _format(self, prefix: str):
        chosen = FORMATS.get(prefix)
        if chosen is None:
            raise CannotDisseminateFormat(f"metadataPrefix={prefix!r} is not disseminated here "
                                          f"(formats: {', '.join(FORMATS)})")
        return chosen

    def _header(self, item: Entry, parent):
        header = self._element("header", parent=parent, **({"status": "deleted"} if item.deleted else {}))
        self._element("identifier", self.id_prefix + item.key, header)
        self._element("datestamp", item.modified, header)
        for spec in sets.specs_of(self.store, item):
            self._element("setSpec", spec, header)
        return header

    def _record(self, item: Entry, chosen, parent):
        record = self._element("record", parent=parent)
        self._header(item, record)
        if not item.deleted:
            metadata = self._element("metadata", parent=record)
            metadata.append(chosen.write(self.store, item, self.policy.suggestions))
        return record

    # ------------------------------------------------------------------ verbs

    def _Identify(self, args, now):
        body = self._element("Identify")
        self._element("repositoryName", self.policy.repository_name, body)
        self._element("baseURL", self.base_url, body)
        self._element("protocolVersion", "2.0", body)
        self._element("adminEmail", self.policy.admin_email, body)
        self._element("earliestDatestamp", self.log.earliest() or _stamp(now), body)
        self._element("deletedRecord", "persistent", body)
        self._element("granularity", "YYYY-MM-DDThh:mm:ssZ", body)
        return body

    def _ListMetadataFormats(self, args, now):
        if "identifier" in args:
            item = self._item(args["identifier"])
            if not self.log.harvestable(item):
                raise NoMetadataFormats(f"record {args['identifier']} holds no cultural heritage object: "
                                        "no metadata format is available for it")
        body = self._element("ListMetadataFormats")
        for chosen in FORMATS.values():
            entry = self._element("metadataFormat", parent=body)
            self._element("metadataPrefix", chosen.prefix, entry)
            self._element("schema", chosen.schema, entry)
            self._element("metadataNamespace", chosen.namespace, entry)
        return body

    def _ListSets(self, args, now):
        if "resumptionToken" in args:
            raise BadResumptionToken("ListSets answers in one response: it issues no resumptionToken")
        found = sets.all_sets(self.store)
        if not found:
            raise NoSetHierarchy("this repository holds no records yet, hence no sets")
        body = self._element("ListSets")
        for oai_set in found:
            entry = self._element("set", parent=body)
            self._element("setSpec", oai_set.spec, entry)
            self._element("setName", oai_set.name, entry)
        return body

    def _GetRecord(self, args, now):
        chosen = self._format(args["metadataPrefix"])
        item = self._item(args["identifier"])
        if not self.log.harvestable(item):
            raise CannotDisseminateFormat(f"record {args['identifier']} holds no cultural heritage object: "
                                          f"it cannot be disseminated as {chosen.prefix}")
        body = self._element("GetRecord")
        self._record(item, chosen, body)
        return body

    def _ListIdentifiers(self, args, now):
        return self._list("ListIdentifiers", args, now)

    def _ListRecords(self, args, now):
        return self._list("ListRecords", args, now)

    def _list(self, verb: str, args, now: datetime):
        epoch = int(now.timestamp())
        if "resumptionToken" in args:
            state = self.signer.decode(args["resumptionToken"], now=epoch)
            if state.verb != verb:
                raise BadResumptionToken(f"this resumptionToken continues a {state.verb} harvest, not {verb}")
        else:
            state = self._first_state(verb, args, now)
        chosen = self._format(state.prefix)
        selection = sets.selection(state.set, state.since, state.until, self.store, check=False)
        after = tuple(state.position) if state.position[0] else None
        items = self.log.page(selection, after=after, limit=self.policy.page_size + 1)
        more = len(items) > self.policy.page_size
        items = items[:self.policy.page_size]
        if not items and "resumptionToken" not in args:
            raise NoRecordsMatch("no record matches these arguments")
        body = self._element(verb)
        for item in items:
            if verb == "ListRecords":
                self._record(item, chosen, body)
            else:
                self._header(item, body)
        size = max(state.size, state.cursor + len(items))
        if more or "resumptionToken" in args:
            attributes = {"completeListSize": str(size), "cursor": str(state.cursor)}
            if more:
                expires = epoch + self.policy.token_lifetime
                following = HarvestState(verb, state.prefix, state.set, state.since, state.until,
                                         items[-1].position, state.cursor + len(items), size, expires)
                attributes["expirationDate"] = _stamp(datetime.fromtimestamp(expires, timezone.utc))
                self._element("resumptionToken", self.signer.encode(following), body, **attributes)
            else:
                self._element("resumptionToken", None, body, **attributes)
        return body

    def _first_state(self, verb: str, args, now: datetime) -> HarvestState:
        self._format(args["metadataPrefix"])
        since = until = None
        grains = set()
        if "from" in args:
            since, grain = parse_date("from", args["from"], end=False)
            grains.add(grain)
        if "until" in args:
            until, grain = parse_date("until", args["until"], end=True)
            grains.add(grain)
        if len(grains) > 1:
            raise BadArgument("from and until must have the same granularity")
        if since is not None and until is not None and since > until:
            raise BadArgument(f"from={args['from']} is later than until={args['until']}")
        # freeze the upper bound: changes made from now on carry later datestamps (module docstring)
        frozen = _stamp(now - timedelta(seconds=1))
        until = frozen if until is None or until > frozen else until
        selection = sets.selection(args.get("set"), since, until, self.store)
        size = harvest.count(self.store, selection)
        return HarvestState(verb, args["metadataPrefix"], args.get("set"), since, until, ("", ""), 0, size,
                            int(time.time()) + self.policy.token_lifetime)
