"""What a job is: its declared parameters, what it is handed (``JobContext``) and what it returns
(``JobResult``). The registry and the orchestration of a run are in ``enrichment.jobs``; the jobs
themselves import only this module, so the registry can import them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

from pyoxigraph import NamedNode

from kg.errors import ConfigError
from kg.record import Vocabulary
from kg.settings import Settings
from kg.store import Store
from enrichment.images import Fetcher
from enrichment.runs import Agent, Suggestion

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Parameter:
    name: str
    type: type
    default: Any
    help: str

    def parse(self, raw: str, job: str) -> Any:
        try:
            if self.type is bool:
                if raw.lower() in ("1", "true", "yes", "on"):
                    return True
                if raw.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(raw)
            if self.type in (list, tuple):
                return [part.strip() for part in raw.split(",") if part.strip()]
            return self.type(raw)
        except ValueError:
            raise ConfigError(f"job {job}: parameter {self.name}={raw!r} is not a valid "
                              f"{self.type.__name__}") from None


@dataclass(frozen=True)
class Target:
    """An object a job works on, and the record graph that describes it (what the run ``prov:used``)."""

    object: NamedNode
    graph: NamedNode


@dataclass
class JobContext:
    store: Store
    settings: Settings
    targets: Sequence[Target]
    params: Mapping[str, Any]
    progress: Progress = lambda done, total: None
    fetch: Fetcher | None = None


@dataclass
class JobResult:
    agent: Agent
    suggestions: list[Suggestion] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    used: list[NamedNode] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    vocabularies: list[Vocabulary] = field(default_factory=list)
    #: called once the run is committed (saving derived embeddings); never before
    after_commit: Callable[[], None] | None = None


class Job(Protocol):
    name: str
    version: str
    description: str
    parameters: tuple[Parameter, ...]
    #: False for a job that selects its own inputs (not objects): --where does not apply
    uses_targets: bool

    def run(self, context: JobContext) -> JobResult: ...
