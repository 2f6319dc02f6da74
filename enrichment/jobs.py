"""The job framework: an explicit registry of enrichment jobs and the orchestration of one run.

A job declares its name, version and parameters, and turns a list of targets (objects with the record
graph describing them) into suggestions. ``run_job`` chooses the targets, calls the job, and writes
the whole run — graph, provenance, one attribute assignment per suggestion — in one transaction at
the end (``enrichment.runs.write_run``): a crashed or interrupted run leaves nothing visible. Derived
embeddings are saved after that commit.

>>> [job.name for job in JOBS]
['clip-tagging', 'text-index', 'reconcile']
>>> parse_params(job("clip-tagging"), ["threshold=0.3", "top_k=2"])["threshold"]
0.3
>>> parse_params(job("clip-tagging"), ["colour=red"])
Traceback (most recent call last):
kg.errors.ConfigError: job clip-tagging has no parameter 'colour' (it has: threshold, top_k, languages, schemes, batch_size)
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

from pyoxigraph import Literal, Variable

from kg.errors import ConfigError
from kg.settings import Settings
from kg.store import Store, utc_now
from enrichment.images import Fetcher
from enrichment.job import Job, JobContext, Progress, Target
from enrichment.queries import named_query
from enrichment.runs import Run, new_run_id, write_run

log = logging.getLogger("mouseion.enrichment")

def _registry() -> list[Job]:
    from enrichment.clip_tagging import ClipTagging
    from enrichment.embeddings import Reconcile, TextIndex
    return [ClipTagging(), TextIndex(), Reconcile()]


#: Every job `mouseion enrich` knows, in the order `--list` shows them.
JOBS: list[Job] = _registry()


def job(name: str) -> Job:
    for candidate in JOBS:
        if candidate.name == name:
            return candidate
    raise ConfigError(f"no enrichment job {name!r} (jobs: {', '.join(j.name for j in JOBS)})")


def parse_params(chosen: Job, pairs: Sequence[str]) -> dict[str, Any]:
    """Defaults overridden by ``name=value`` pairs; an unknown name or bad value is a ConfigError."""
    values = {p.name: p.default for p in chosen.parameters}
    declared = {p.name: p for p in chosen.parameters}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep:
            raise ConfigError(f"job {chosen.name}: --param {pair!r} is not name=value")
        if name not in declared:
            raise ConfigError(f"job {chosen.name} has no parameter {name!r} "
                              f"(it has: {', '.join(declared) or 'none'})")
        values[name] = declared[name].parse(raw, chosen.name)
    return values


def select_targets(store: Store, where: str | None = None) -> list[Target]:
    """Objects (E22 / edm:ProvidedCHO) in record graphs, optionally narrowed by a SPARQL group graph
    pattern over ``?object`` (the operator's ``--where``), in IRI order."""
    query = named_query("targets")
    if where:
        if "}" in where and where.count("{") != where.count("}"):
            raise ConfigError(f"--where {where!r}: unbalanced braces")
        query = query.replace("#WHERE#", "{ " + where + " }")
    bound = {Variable("prefix"): Literal(f"{store.uris.base}graph/record/")}
    try:
        rows = store.query(query, substitutions=bound)
    except SyntaxError as error:
        raise ConfigError(f"--where {where!r} is not a SPARQL group graph pattern over ?object: {error}") from None
    seen, out = set(), []
    for row in rows:
        if row["object"].value not in seen:
            seen.add(row["object"].value)
            out.append(Target(row["object"], row["graph"]))
    return out


def run_job(store: Store, settings: Settings, name: str, *, where: str | None = None,
            params: Mapping[str, Any] | Sequence[str] = (), progress: Progress | None = None,
            fetch: Fetcher | None = None) -> Run:
    """Run job ``name`` and write its run. Returns the written run."""
    chosen = job(name)
    values = parse_params(chosen, params) if not isinstance(params, Mapping) else {
        **{p.name: p.default for p in chosen.parameters}, **params}
    unknown = set(values) - {p.name for p in chosen.parameters}
    if unknown:
        raise ConfigError(f"job {chosen.name} has no parameter {sorted(unknown)[0]!r}")
    if where and not chosen.uses_targets:
        raise ConfigError(f"job {chosen.name} chooses its own inputs: --where does not apply")
    started = utc_now()
    targets = select_targets(store, where) if chosen.uses_targets else []
    context = JobContext(store, settings, targets, values, progress or (lambda done, total: None), fetch)
    log.info("job %s: %d targets", chosen.name, len(targets))
    result = chosen.run(context)
    for reason in result.skipped:
        log.warning("job %s skipped %s", chosen.name, reason)
    parameters = dict(values)
    if chosen.uses_targets:
        parameters["where"] = where or ""
    run = Run(new_run_id(chosen.name, started), result.agent, parameters, started, utc_now(),
              result.used or [t.graph for t in targets], result.suggestions, result.skipped, result.notes)
    write_run(store, run, result.vocabularies)
    if result.after_commit is not None:
        result.after_commit()
    return run
