"""Plain data types that cross process boundaries (Serve hops, Ray Data rows).

They are small, picklable dataclasses. Media travel by reference (a path under a media root, or a
Ray object ref to uploaded bytes), never as decoded arrays, so a query is cheap to fan out.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

#: the media a request may carry: the one list the API's schema, the config's modalities, the
#: readers, the datasets and `mexa ask`'s flags are checked against
MediaType = Literal["image", "video", "audio", "points", "table", "text", "volume"]
MEDIA_TYPES: tuple[str, ...] = get_args(MediaType)


@dataclass
class Media:
    """One input item. Exactly one of `path` (a file the experts can read) or `ref` is set.

    `ref` holds the bytes of an upload: the bytes themselves when small, else an opaque handle (a
    Ray ObjectRef in the Serve app); the transport layer turns it into a node-local file before
    an expert runs, keyed by `sha256`.
    """

    type: str
    path: str | None = None
    ref: Any = None
    format: str | None = None
    sha256: str | None = None
    name: str | None = None

    def describe(self) -> str:
        return self.name or (self.path.rsplit("/", 1)[-1] if self.path else f"{self.type} upload")

    def local_path(self) -> str:
        """The file a reader opens: admission sets it for a file, the transport for an upload
        before an expert runs; an item without one was never made local, which is a bug."""
        if self.path is None:
            raise ValueError(f"{self.describe()} has no local file (an upload not materialised)")
        return self.path

    def resolved_format(self) -> str:
        """The format admission resolved (from the `format` field, the extension or the bytes);
        an item without one was never admitted, which is a bug."""
        if self.format is None:
            raise ValueError(f"{self.describe()} has no format (it was not admitted)")
        return self.format


@dataclass
class Query:
    question: str
    options: list[str] = field(default_factory=list)
    task: str | None = None
    media: list[Media] = field(default_factory=list)
    #: expert names the caller insists on; None lets the router decide
    experts: list[str] | None = None
    #: whole-request budget in seconds; None means the app default
    deadline_s: float | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    @property
    def modalities(self) -> list[str]:
        seen: list[str] = []
        for m in self.media:
            if m.type not in seen:
                seen.append(m.type)
        return seen

    def media_of(self, types: list[str] | tuple[str, ...]) -> list[Media]:
        return [m for m in self.media if m.type in types]


@dataclass(frozen=True)
class Skill:
    """A MEXA skill: what an expert can say about one kind of input."""

    id: str
    name: str
    area: str
    modalities: tuple[str, ...]
    description: str


@dataclass
class SelectedExpert:
    expert: str
    skill: str
    why: str
    score: float = 0.0


@dataclass
class Selection:
    experts: list[SelectedExpert]
    #: which path decided: "llm:<model>", "embedding" (also when the LLM router fell back to it:
    #: `notes` says why) or "forced" (the caller named the experts)
    router: str
    #: input modalities that no configured expert handles
    uncovered: list[str] = field(default_factory=list)
    #: what a user should know about how the choice was made (fallbacks, dropped skill ids)
    notes: list[str] = field(default_factory=list)

    def answer_notes(self) -> list[str]:
        """What the answer's `notes` say of the choice: the inputs no expert read, then how it
        was made (the Serve path and the bulk job alike)."""
        return [f"no configured expert reads {m} input" for m in self.uncovered] + self.notes


@dataclass
class ExpertReport:
    expert: str
    skill: str
    text: str
    latency_s: float
    #: wall-clock start/end (time.time()) so callers can see that experts overlapped
    started_at: float = 0.0
    finished_at: float = 0.0


@dataclass
class MissingExpert:
    expert: str
    reason: str


@dataclass
class Answer:
    answer: str
    option_index: int | None
    reasoning: str
    selected: list[SelectedExpert]
    reports: list[ExpertReport]
    missing: list[MissingExpert]
    timings: dict[str, float]
    request_id: str
    #: who answered: "lrm:<model id>" or "evidence-ranking" (the non-LRM fallback; `notes` says
    #: why when an LRM was configured but could not answer)
    aggregator: str = ""
    router: str = ""
    notes: list[str] = field(default_factory=list)
    #: the evidence scorer's confidence in a multiple-choice answer, in [0, 1]; None where no
    #: scorer looked (an LRM's own answer, an open question)
    confidence: float | None = None
    #: when each stage ran: ingress, routing, each expert (sent, start, end, reported or
    #: missing), aggregation; seconds from the request's arrival over HTTP (or the handle call)
    timeline: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
