"""The expert interface: (query, media, skill) -> ExpertReport with a text report."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mexa_ray.config import ExpertSpec, ModelSpec
from mexa_ray.errors import ConfigError, InvalidRequest, validated
from mexa_ray.experts.catalogue import registered
from mexa_ray.experts.settings import BackendSettings, NoSettings
from mexa_ray.types import ExpertReport, Media, Query, Skill

log = logging.getLogger(__name__)


def required_model(spec: ExpertSpec) -> ModelSpec:
    """The model a model-backed expert's card must name."""
    if spec.model is None:
        raise ConfigError(
            f"expert {spec.name!r}: backend {spec.backend!r} needs a `model`", field="model"
        )
    return spec.model


class Expert(ABC):
    """An expert reads the query's media of its modalities and writes an interpretable report.

    Subclasses load their model (if any) in `__init__`, so that a Serve replica or a Ray Data
    actor pays the load once, and implement `describe` for one media item. Media arrive with a
    readable local `path` and a normalised `format`.
    """

    # A registered backend's settings model, packages and model loader are its entry in
    # mexa_ray.experts.catalogue; a custom "package.module:ClassName" backend declares them here.
    #: import names of the optional packages the backend loads (`mexa check` looks for them)
    requires: tuple[str, ...] = ()
    #: how `model` loads (see catalogue.Backend.model_loader)
    model_loader: str = "generator"
    #: the model of the config's `settings:`; one that declares none takes none, so a setting
    #: given to it is an error rather than silently ignored
    Settings: ClassVar[type[BackendSettings]] = NoSettings

    def __init__(self, spec: ExpertSpec, skills: dict[str, Skill]) -> None:
        self.spec = spec
        self.name = spec.name
        self.settings = self.parse_settings(spec)
        self.skills = {sid: skills[sid] for sid in spec.skills}

    @classmethod
    def parse_settings(cls, spec: ExpertSpec) -> Any:
        """The expert's typed settings. Registered backends' were checked when the config
        loaded; a custom class's model is only known once the class is imported, so this is
        where a bad setting of one fails, naming its field all the same."""

        def error(loc: str | None, msg: str) -> ConfigError:
            field = f"experts.{spec.name}.settings" + (f".{loc}" if loc else "")
            return ConfigError(f"{field}: {msg}", field=field)

        entry = registered(f"{cls.__module__}:{cls.__qualname__}")
        return validated(entry.settings if entry else cls.Settings, spec.settings, error)

    #: whether `run_batch` does better than one `run` per call (one batched model forward);
    #: the Serve deployment then gathers concurrent requests with `@serve.batch`
    batches: bool = False

    #: whether reports depend on the question (and its answer options) and not only on the media
    #: and skill; the bulk job's report cache keys on the question only for such experts
    reads_question: bool = False

    def plan(self, query: Query, skill_id: str) -> tuple[Skill, list[Media]]:
        """The skill to apply and the media items it reads."""
        skill = self.skills.get(skill_id)
        if skill is None:
            raise InvalidRequest(f"expert {self.name!r} has no skill {skill_id!r}", field="skill")
        readable = set(skill.modalities) & set(self.spec.modalities)
        return skill, query.media_of(tuple(readable))

    def report(
        self, query: Query, skill: Skill, items: list[Media], bodies: list[str], started: float
    ) -> ExpertReport:
        """One report from the per-item texts (labelled by item when there are several)."""
        if len(items) > 1:
            bodies = [
                f"[{item.type}: {item.describe()}]\n{body}" for item, body in zip(items, bodies)
            ]
        readable = sorted(set(skill.modalities) & set(self.spec.modalities))
        text = "\n".join(bodies) if bodies else f"No {'/'.join(readable)} input was given."
        finished = time.time()
        log.info(
            "expert %s skill %s request %s: %.3fs",
            self.name,
            skill.id,
            query.request_id,
            finished - started,
        )
        return ExpertReport(self.name, skill.id, text, finished - started, started, finished)

    def run(self, query: Query, skill_id: str) -> ExpertReport:
        skill, items = self.plan(query, skill_id)
        started = time.time()
        return self.report(
            query, skill, items, [self.describe(item, query, skill) for item in items], started
        )

    def run_batch(self, calls: list[tuple[Query, str]]) -> list[ExpertReport | Exception]:
        """Reports for many (query, skill) calls; a failing call yields its exception, so one
        bad input does not fail the calls batched with it."""
        out: list[ExpertReport | Exception] = []
        for query, skill_id in calls:
            try:
                out.append(self.run(query, skill_id))
            except Exception as exc:  # noqa: BLE001 - handed back to that call's caller
                out.append(exc)
        return out

    @abstractmethod
    def describe(self, item: Media, query: Query, skill: Skill) -> str:
        """Write the report for one media item under one skill."""

    def check_health(self) -> None:  # noqa: B027 - optional: most experts have nothing to probe
        """Raise if the expert cannot serve (model not loaded, device lost)."""

    #: whether `warm_up` runs the expert on small made-up media at load
    warms_up: bool = True

    def warm_up(self, folder: Path) -> float:
        """Run once on a small item of each media type it reads (made in `folder`), so the
        first request does not pay what a first run pays: lazy imports in the readers, an
        engine's first allocations and kernel choices, caches. One run per type, with the first
        skill that reads it (a generating model pays one short generation each). Seconds
        taken; a failure is logged, never raised (a real request then shows the real error)."""
        started = time.perf_counter()
        if not self.warms_up:
            return 0.0
        from mexa_ray.media.samples import small_media

        for kind in self.spec.modalities:
            sid = next((s for s, k in self.skills.items() if kind in k.modalities), None)
            item = small_media(kind, folder)
            if sid is None or item is None:
                continue
            query = Query(question="What is in it?", media=[item], request_id="warm-up")
            try:
                self.run(query, sid)
            except Exception as exc:  # noqa: BLE001 - a warm-up, not a request: log and go on
                log.warning("expert %s: warm-up on %s failed: %s", self.name, kind, exc)
        return time.perf_counter() - started


@dataclass
class Prepared:
    """What one media item gives the model (`inputs`), and the report text that goes before
    the model's outputs (`header`: facts read while preparing, so the item is read once)."""

    inputs: list[Any]
    header: str = ""


class BatchedExpert(Expert):
    """An expert whose model works on batches: each media item becomes model inputs
    (`prepare`), the inputs of every call in a batch go through the model together (`infer`),
    and each item's outputs become its report text (`compose`)."""

    batches = True

    @abstractmethod
    def prepare(self, item: Media, query: Query, skill: Skill) -> Prepared:
        """The model inputs for one media item (e.g. one prompt per video frame)."""

    @abstractmethod
    def infer(self, inputs: list[Any]) -> list[Any]:
        """One output per input, in order; the batched model call."""

    @abstractmethod
    def compose(
        self, item: Media, query: Query, skill: Skill, prepared: Prepared, outputs: list[Any]
    ) -> str:
        """The item's report text from what was prepared and the model's outputs."""

    def describe(self, item: Media, query: Query, skill: Skill) -> str:
        prepared = self.prepare(item, query, skill)
        outputs = self.infer(prepared.inputs) if prepared.inputs else []
        return self.compose(item, query, skill, prepared, outputs)

    def run_batch(self, calls: list[tuple[Query, str]]) -> list[ExpertReport | Exception]:
        started = time.time()
        results: list[ExpertReport | Exception | None] = [None] * len(calls)
        plans: list[tuple[int, Skill, list[Media], list[Prepared]]] = []
        for i, (query, skill_id) in enumerate(calls):
            try:  # a request whose media cannot be read fails alone
                skill, items = self.plan(query, skill_id)
                plans.append((i, skill, items, [self.prepare(m, query, skill) for m in items]))
            except Exception as exc:  # noqa: BLE001 - handed back to that call's caller
                results[i] = exc
        flat = [x for *_, per_item in plans for prepared in per_item for x in prepared.inputs]
        try:
            outputs = self.infer(flat) if flat else []
        except Exception as exc:  # noqa: BLE001 - the model failed: every planned call fails
            for i, *_ in plans:
                results[i] = exc
            return results  # type: ignore[return-value]
        pos = 0
        for i, skill, items, per_item in plans:
            query = calls[i][0]
            bodies = []
            for item, prepared in zip(items, per_item):
                n = len(prepared.inputs)
                bodies.append(self.compose(item, query, skill, prepared, outputs[pos : pos + n]))
                pos += n
            results[i] = self.report(query, skill, items, bodies, started)
        return results  # type: ignore[return-value]

    def run(self, query: Query, skill_id: str) -> ExpertReport:
        result = self.run_batch([(query, skill_id)])[0]
        if isinstance(result, Exception):
            raise result
        return result
