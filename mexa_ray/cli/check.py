"""`mexa check`: what a config needs, checked before deploying, without Ray and without weights.

A GPU deployment that fails does so minutes in, after replicas have downloaded and loaded
weights; most of its causes are visible from config files alone: a backend package that is
missing, a processor or model class this transformers cannot resolve, GPU shares that do not
fit the cluster, a media root that is not there. Each check prints one line; a hub id that
cannot be looked at from here is `unchecked`, never passed.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from mexa_ray.config import AppConfig, ModelSpec
from mexa_ray.errors import ConfigError, MexaError
from mexa_ray.experts import backend_entry
from mexa_ray.models import hf_loading, memory_plan
from mexa_ray.models.engines import ENGINES, install_hint
from mexa_ray.models.memory_plan import GPU_MEMORY_LABEL, parse_size
from mexa_ray.models.weights import resolve_model_path

Status = Literal["ok", "FAIL", "unchecked", "warn"]

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")


@dataclass
class Check:
    status: Status
    what: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<9} {self.what}: {self.detail}"


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def _hint(package: str) -> str:
    return install_hint(package)


# --- backends and models ---------------------------------------------------------------------


def check_backends(config: AppConfig) -> list[Check]:
    checks = []
    for spec in config.experts:
        what = f"experts.{spec.name}.backend"
        try:
            entry = backend_entry(spec.backend)
        except ConfigError as exc:
            checks.append(Check("FAIL", what, exc.message))
            continue
        missing = [p for p in entry.requires if not _installed(p)]
        if missing:
            checks.append(
                Check(
                    "FAIL", what, f"{spec.backend} needs {', '.join(missing)} ({_hint(missing[0])})"
                )
            )
        else:
            checks.append(Check("ok", what, f"{spec.backend} ({entry.target.replace(':', '.')})"))
    return checks


def model_specs(config: AppConfig) -> list[tuple[str, ModelSpec, str | None]]:
    """(field, spec, the Auto class its user loads it with, where not the generator's)."""
    specs: list[tuple[str, ModelSpec, str | None]] = []
    if config.router.llm is not None and config.router.kind == "llm":
        specs.append(("router.llm", config.router.llm, None))
    if config.aggregator.llm is not None and config.aggregator.kind == "lrm":
        specs.append(("aggregator.llm", config.aggregator.llm, None))
    for spec in config.experts:
        if spec.model is None:
            continue
        try:
            loader = backend_entry(spec.backend).model_loader
        except ConfigError:
            continue  # reported by check_backends
        specs.append((f"experts.{spec.name}.model", spec.model, loader))
    return specs


@dataclass
class Hub:
    """Looks at the hub's small config files, once reachable; one failed look marks it
    unreachable for the rest of the run (no waiting out a timeout per model)."""

    reachable: bool | None = None
    reason: str = ""

    def config_file(self, model: str, revision: str | None) -> str | None:
        if self.reachable is None:
            self.reachable, self.reason = self._probe()
        if not self.reachable:
            return None
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (
            EntryNotFoundError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        try:
            return hf_hub_download(model, "config.json", revision=revision, etag_timeout=5)
        except LocalEntryNotFoundError as exc:  # the connection failed after all
            self.reachable, self.reason = False, first_words(exc)
            return None
        except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError) as exc:
            raise ConfigError(
                f"{model!r} has no config.json on the hub (gated, private, or no "
                f"such repository or revision): {first_words(exc)}"
            ) from None

    @staticmethod
    def _probe() -> tuple[bool, str]:
        """One quick look at the hub's endpoint: without it each lookup would wait out
        huggingface_hub's retries (about 25 s per model)."""
        if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
            return False, "HF_HUB_OFFLINE is set"
        import requests
        from huggingface_hub import constants

        try:
            requests.head(constants.ENDPOINT, timeout=3)
        except requests.RequestException as exc:
            return False, f"{constants.ENDPOINT}: {type(exc).__name__}"
        return True, ""


def first_words(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _weights_in(folder: Path) -> bool:
    return any(p.suffix in WEIGHT_SUFFIXES for p in folder.iterdir() if p.is_file())


def check_model(field_: str, spec: ModelSpec, loader: str | None, hub: Hub) -> Check:
    package = ENGINES[spec.backend].package
    if not _installed(package):
        return Check(
            "FAIL",
            f"{field_}.backend",
            f"{spec.backend!r} needs the {package} "
            f"package, which is not installed ({_hint(package)})",
        )
    if spec.backend == "openai":
        url = spec.base_url or os.environ.get("OPENAI_BASE_URL") or "$OPENAI_BASE_URL (unset)"
        return Check(
            "unchecked",
            field_,
            f"{spec.model!r} behind the endpoint {url}: reached when first called",
        )
    try:
        path = resolve_model_path(spec.model, f"{field_}.model")
    except ConfigError as exc:
        return Check("FAIL", field_, exc.message)
    if loader in ("ctranslate2", "onnx") or spec.backend == "llamacpp":
        target = Path(path) / spec.gguf_file if spec.gguf_file else Path(path)
        return (
            Check("ok", field_, f"{target} is there")
            if target.exists()
            else Check("FAIL", field_, f"{target} does not exist")
        )
    local = Path(path).is_dir()
    common: dict[str, Any] = {**hf_loading_kwargs(spec), "local_files_only": True}
    if not local:
        try:
            hf_loading.load_model_config(path, common, f"{field_}.model", spec.label)
        except ConfigError:  # not in this machine's hub cache
            return _check_on_hub(field_, spec, loader, hub)
    try:
        return Check("ok", field_, _resolve(path, spec, loader, common, field_, local))
    except ConfigError as exc:
        return Check("FAIL", field_, exc.message)


def hf_loading_kwargs(spec: ModelSpec) -> dict[str, Any]:
    from mexa_ray.models.llm import load_kwargs

    return load_kwargs(spec)


def _resolve(
    path: str, spec: ModelSpec, loader: str | None, common: dict[str, Any], field_: str, local: bool
) -> str:
    """What a replica will load, resolved from the folder or cache: classes, template, weights."""
    import transformers

    config = hf_loading.load_model_config(path, common, f"{field_}.model", spec.label)
    if loader and loader != "generator":
        model_cls = getattr(transformers, loader)
        if type(config) not in model_cls._model_mapping:
            raise ConfigError(f"{field_}.model: {loader} cannot load {type(config).__name__}")
    else:
        model_cls = hf_loading.model_class(config, spec.kind, spec.auto_class, field_)
    try:
        if spec.kind == "text" and (loader in (None, "generator")):
            tokenizer = transformers.AutoTokenizer.from_pretrained(path, **common)
            processor_name, template = type(tokenizer).__name__, tokenizer.chat_template
        else:
            processor = hf_loading.load_processor(path, common, f"{field_}.model", spec.label)
            processor_name = type(processor).__name__
            template = getattr(processor, "chat_template", None) or getattr(
                getattr(processor, "tokenizer", None), "chat_template", None
            )
            if getattr(processor, "video_processor", "") is None:
                processor_name += " (video processor left out: torchvision is missing)"
    except ImportError as exc:
        raise hf_loading.missing_package_error(f"{field_}.model", spec.label, exc) from None
    except OSError as exc:
        raise ConfigError(f"{field_}.model: {spec.label!r}: {exc}") from None
    if loader in (None, "generator") and not template:
        raise ConfigError(
            f"{field_}.model: {spec.label!r} has no chat template; MEXA's prompts "
            "need an instruction-tuned model"
        )
    if local:
        if not _weights_in(Path(path)):
            raise ConfigError(f"{field_}.model: {path} holds no weight files")
        weights = "weights present"
    else:
        weights = "from the local hub cache"
    return (
        f"{spec.label}: {hf_loading.architecture(model_cls, config)}, {processor_name}, {weights}"
    )


def _check_on_hub(field_: str, spec: ModelSpec, loader: str | None, hub: Hub) -> Check:
    try:
        config_path = hub.config_file(spec.model, spec.revision)
    except ConfigError as exc:
        return Check("FAIL", field_, exc.message)
    if config_path is None:
        return Check(
            "unchecked",
            field_,
            f"{spec.label}: not in this machine's hub cache, and "
            f"the hub is not reachable from here ({hub.reason}); check where it "
            "will load",
        )
    import transformers

    try:
        config = transformers.AutoConfig.from_pretrained(str(Path(config_path).parent))
        model_cls = (
            getattr(transformers, loader)
            if loader and loader != "generator"
            else hf_loading.model_class(config, spec.kind, spec.auto_class, field_)
        )
        cls_name = hf_loading.architecture(model_cls, config)
    except (ConfigError, ValueError, OSError) as exc:
        return Check("FAIL", field_, str(exc))
    return Check(
        "ok",
        field_,
        f"{spec.label}: {cls_name} (from the hub's config.json; the "
        "processor and weights download on first load)",
    )


# --- GPU budget -------------------------------------------------------------------------------


@dataclass
class Node:
    name: str
    cpus: float | None
    gpus: list[float]
    custom: dict[str, float]
    placed: list[str] = field(default_factory=list)
    #: the deployment of each placed replica (for max_replicas_per_node)
    deployments: list[str] = field(default_factory=list)
    #: each card's memory in bytes, where known (`--gpu-memory`, the node type's label)
    gpu_memory: int | None = None

    def used(self) -> float:
        return len(self.gpus) - sum(self.gpus)


@dataclass
class Replica:
    label: str
    cpus: float
    gpus: float
    custom: dict[str, float]
    deployment: str = ""
    max_per_node: int | None = None
    #: where `place` put it
    node: Node | None = None
    gpu_indices: list[int] = field(default_factory=list)


def replicas(config: AppConfig, at: Literal["min", "max"]) -> list[Replica]:
    out = []
    for _, label, d in config.deployments():
        if d.autoscaling_config is not None:
            scaling = d.autoscaling_config
            count = int(
                scaling.get("min_replicas", 1)
                if at == "min"
                else scaling.get("max_replicas", scaling.get("min_replicas", 1))
            )
        else:
            count = d.num_replicas or 1
        actor = d.ray_actor_options
        for i in range(count):
            out.append(
                Replica(
                    f"{label}#{i + 1}" if count > 1 else label,
                    float(actor["num_cpus"]),
                    float(actor.get("num_gpus", 0)),
                    {k: float(v) for k, v in (actor.get("resources") or {}).items()},
                    label,
                    d.max_replicas_per_node,
                )
            )
    return out


def cluster_nodes(path: str | Path, max_per_type: int = 32) -> list[Node]:
    """The nodes a Ray cluster launcher file can start: the head once, each worker type up to
    its max_workers, with the resources it declares (declare GPU in `resources`: the check
    cannot look up instance types)."""
    try:
        data = yaml.safe_load(Path(path).read_text())
        types = data["available_node_types"]
        head = data["head_node_type"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise MexaError(
            f"--cluster {path}: not a Ray cluster launcher file ({exc})", field="cluster"
        ) from None
    nodes = []
    for name, spec in types.items():
        resources = dict(spec.get("resources") or {})
        count = 1 if name == head else min(int(spec.get("max_workers", 0)), max_per_type)
        label = (spec.get("labels") or {}).get(GPU_MEMORY_LABEL)
        memory = (
            parse_size(label, f"available_node_types.{name}.labels.{GPU_MEMORY_LABEL}")
            if label
            else None
        )
        for i in range(count):
            nodes.append(
                Node(
                    name if name == head else f"{name}-{i + 1}",
                    float(resources["CPU"]) if "CPU" in resources else None,
                    [1.0] * int(resources.get("GPU", 0)),
                    {k: float(v) for k, v in resources.items() if k not in ("CPU", "GPU")},
                    gpu_memory=memory,
                )
            )
    return nodes


def single_node(gpus: int, cpus: float | None = None) -> list[Node]:
    return [Node("this machine", cpus, [1.0] * gpus, {})]


def _fits(node: Node, r: Replica) -> list[int] | None:
    """The GPU indices the replica would take on the node (Ray's rules: a whole-number request
    takes whole free GPUs, a fraction shares one GPU; no more of a deployment's replicas than
    its max_replicas_per_node), or None."""
    if any(node.custom.get(k, 0.0) + 1e-9 < v for k, v in r.custom.items()):
        return None
    if r.max_per_node is not None and node.deployments.count(r.deployment) >= r.max_per_node:
        return None
    if node.cpus is not None and node.cpus + 1e-9 < r.cpus:
        return None
    if r.gpus == 0:
        return []
    if r.gpus >= 1:
        free = [i for i, left in enumerate(node.gpus) if left >= 1 - 1e-9]
        return free[: int(r.gpus)] if len(free) >= int(r.gpus) else None
    # a share of one GPU: the fullest GPU it still fits (packs shares, as Ray's scheduler does)
    fitting = [i for i, left in enumerate(node.gpus) if left + 1e-9 >= r.gpus]
    return [min(fitting, key=lambda i: node.gpus[i])] if fitting else None


def place(nodes: list[Node], wanted: list[Replica]) -> list[Replica]:
    """Place replicas, largest GPU demand first; the replicas that fit nowhere."""
    unplaced = []
    for r in sorted(wanted, key=lambda r: (-r.gpus, -len(r.custom))):
        for node in nodes:
            taken = _fits(node, r)
            if taken is None:
                continue
            for i in taken:
                node.gpus[i] -= 1.0 if r.gpus >= 1 else r.gpus
            for k, v in r.custom.items():
                node.custom[k] -= v
            if node.cpus is not None:
                node.cpus -= r.cpus
            node.placed.append(r.label)
            node.deployments.append(r.deployment)
            r.node, r.gpu_indices = node, taken
            break
        else:
            unplaced.append(r)
    return unplaced


def check_gpu_budget(config: AppConfig, nodes_of: Any) -> list[Check]:
    """`nodes_of()` makes a fresh node list (placement consumes it), or is None: no cluster."""
    wanted = replicas(config, "min")
    total = sum(r.gpus for r in wanted)
    bad = [r for r in wanted if r.gpus > 1 and r.gpus != int(r.gpus)]
    checks = [
        Check(
            "FAIL",
            r.label,
            f"num_gpus {r.gpus}: Ray gives a replica a share of one "
            "GPU or whole GPUs, not a fraction above 1",
        )
        for r in bad
    ]
    if nodes_of is None:
        status: Status = "unchecked" if total else "ok"
        return checks + [
            Check(
                status,
                "GPU budget",
                f"{len(wanted)} replicas ask for "
                f"{total:g} GPUs in all; give --gpus N or --cluster "
                "cluster.yaml to check them against a cluster",
            )
        ]
    for at in ("min", "max"):
        nodes = nodes_of()
        wanted = replicas(config, at)
        unplaced = place(nodes, wanted)
        label = "GPU budget" if at == "min" else "GPU budget at max_replicas"
        used = (
            "; ".join(
                f"{n.name} {n.used():g}/{len(n.gpus)} GPUs" for n in nodes if n.placed and n.gpus
            )
            or "no GPUs used"
        )
        if not unplaced:
            checks.append(
                Check(
                    "ok",
                    label,
                    f"{len(wanted)} replicas, {sum(r.gpus for r in wanted):g} GPUs: {used}",
                )
            )
            continue
        missing = ", ".join(
            f"{r.label} (num_gpus {r.gpus:g}"
            + (f", resources {r.custom}" if r.custom else "")
            + ")"
            for r in unplaced[:6]
        )
        detail = f"{len(unplaced)} of {len(wanted)} replicas fit no node: {missing}; placed: {used}"
        # at the minimum the app cannot start; at the maximum autoscaling stops short
        checks.append(Check("FAIL" if at == "min" else "warn", label, detail))
    return checks


# --- GPU memory -------------------------------------------------------------------------------


def model_of(config: AppConfig) -> dict[str, tuple[str, ModelSpec, str | None, dict[str, Any]]]:
    """Each deployment's model: (field, spec, loader, the expert's settings)."""
    settings = {f"experts.{e.name}": dict(e.settings) for e in config.experts}
    # the router shows its model `frames` images in one conversation
    settings["router"] = {"images_per_sequence": config.router.frames}
    return {
        field_.rsplit(".", 1)[0]: (field_, spec, loader, settings.get(field_.rsplit(".", 1)[0], {}))
        for field_, spec, loader in model_specs(config)
    }


@dataclass
class MemoryPlan:
    checks: list[Check]
    rows: list[memory_plan.Row]
    cards: list[memory_plan.Card]

    def as_json(self) -> dict[str, Any]:
        return {
            "replicas": [r.as_json() for r in self.rows],
            "cards": [
                {
                    "node": c.node,
                    "gpu": c.index,
                    "memory_bytes": c.memory,
                    "planned_bytes": c.need,
                    "replicas": [r.replica for r in c.rows],
                }
                for c in self.cards
            ],
        }


def check_gpu_memory(
    config: AppConfig, nodes_of: Any, gpu_memory: int | None, hub: Hub
) -> MemoryPlan:
    """Each GPU replica's need in bytes against its share of its card (placed as the GPU budget
    places the minimum replicas), and each card's total against its memory."""
    nodes = nodes_of() if nodes_of is not None else []
    if gpu_memory is not None:
        for node in nodes:
            node.gpu_memory = gpu_memory
    wanted = replicas(config, "min")
    if not any(r.gpus for r in wanted):
        return MemoryPlan([], [], [])
    if not nodes or not any(n.gpu_memory for n in nodes if n.gpus):
        return MemoryPlan(
            [
                Check(
                    "unchecked",
                    "GPU memory",
                    "give --gpu-memory SIZE (e.g. 80GiB) with --gpus N, or label the GPU node "
                    f"types in the cluster file ({GPU_MEMORY_LABEL}: 80GiB), to plan each "
                    "model's bytes against its share",
                )
            ],
            [],
            [],
        )
    place(nodes, wanted)
    models = model_of(config)
    found: dict[str, memory_plan.Footprint | str] = {}
    rows: list[memory_plan.Row] = []
    cards: dict[tuple[str, int], memory_plan.Card] = {}
    checks: list[Check] = []
    for r in wanted:
        if not r.gpus or r.node is None or not r.node.gpu_memory:
            continue
        memory = r.node.gpu_memory
        if r.deployment not in models:
            continue  # a GPU share with no model: nothing to plan
        field_, spec, loader, settings = models[r.deployment]
        if field_ not in found:
            found[field_] = memory_plan.footprint(field_, spec, loader, settings, hub)
        fp = found[field_]
        row = memory_plan.Row(
            r.label,
            r.node.name,
            r.gpu_indices,
            r.gpus,
            int(memory * r.gpus),
            fp if isinstance(fp, memory_plan.Footprint) else None,
            fp if isinstance(fp, str) else "",
        )
        rows.append(row)
        for i in r.gpu_indices:
            cards.setdefault(
                (r.node.name, i), memory_plan.Card(r.node.name, i, memory)
            ).rows.append(row)
        gib = memory_plan.gib
        if row.footprint is None:
            checks.append(Check("unchecked", f"{r.label} memory", row.unknown))
        elif (row.headroom or 0) < 0:
            checks.append(
                Check(
                    "FAIL",
                    f"{r.label} memory",
                    f"{row.footprint.label} needs {gib(row.footprint.need)} GiB, its share "
                    f"(num_gpus {r.gpus:g} of {gib(memory)} GiB) gives {gib(row.share_bytes)} "
                    "GiB: raise num_gpus, lower batch_size or context_tokens, or pick a smaller "
                    "dtype or model",
                )
            )
        else:
            checks.append(
                Check(
                    "ok",
                    f"{r.label} memory",
                    f"needs {gib(row.footprint.need)} of its {gib(row.share_bytes)} GiB",
                )
            )
    for card in cards.values():
        what = f"GPU memory {card.node}/{card.index}"
        detail = f"{gib(card.need)} of {gib(card.memory)} GiB planned for {len(card.rows)} replicas"
        status: Status = (
            "FAIL"
            if card.need > card.memory
            else "unchecked"
            if any(r.footprint is None for r in card.rows)
            else "ok"
        )
        checks.append(Check(status, what, detail))
    return MemoryPlan(checks, rows, sorted(cards.values(), key=lambda c: (c.node, c.index)))


# --- media roots ------------------------------------------------------------------------------


def check_media_roots(config: AppConfig) -> list[Check]:
    checks = []
    for root in config.media_roots():
        what = f"media.roots {root}"
        if not root.exists():
            checks.append(
                Check(
                    "warn",
                    what,
                    "absent here; it must exist on every node that "
                    "runs the ingress (shared storage)",
                )
            )
        elif not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
            checks.append(Check("FAIL", what, "not a readable folder"))
        else:
            checks.append(Check("ok", what, "readable"))
    return checks


def run_checks(
    config: AppConfig, nodes_of: Any = None, gpu_memory: int | None = None
) -> tuple[list[Check], MemoryPlan]:
    hub = Hub()
    checks = check_backends(config)
    checks += [check_model(f, spec, loader, hub) for f, spec, loader in model_specs(config)]
    checks += check_gpu_budget(config, nodes_of)
    plan = check_gpu_memory(config, nodes_of, gpu_memory, hub)
    checks += plan.checks
    checks += check_media_roots(config)
    return checks, plan
