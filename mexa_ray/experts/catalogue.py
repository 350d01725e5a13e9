"""Every registered expert backend, one entry each: the config name, the class, its settings
model, the optional packages it loads and how its `model` loads.

Adding a backend is one entry here (and its class and settings model). The catalogue imports no
backend and not the config, so the config checks settings at load, `mexa check` finds packages
and model loaders, and `mexa experts --backends` lists settings, all without importing a
backend's libraries. A config may also name any class as "package.module:ClassName"; such a
class declares the same on itself (`Settings`, `requires`, `model_loader`).
"""

from __future__ import annotations

from dataclasses import dataclass

from mexa_ray.experts.settings import (
    AudioLMSettings,
    AudioSettings,
    BackendSettings,
    ChartSettings,
    CTSettings,
    FasterWhisperSettings,
    OCRSettings,
    PointsSettings,
    SceneVLMSettings,
    SoundEventSettings,
    SpeechSettings,
    SyntheticSettings,
    TableSettings,
    TextSettings,
    VisionSettings,
    VisualSettings,
)


@dataclass(frozen=True)
class Backend:
    #: "package.module:ClassName", imported when an expert of this backend is built
    target: str
    settings: type[BackendSettings]
    #: import names of the optional packages it loads (`mexa check` looks for them)
    requires: tuple[str, ...] = ()
    #: how `model` loads: "generator" (llm.build_generator: the kind's Auto class), a
    #: transformers Auto class name, "ctranslate2" or "onnx"; `mexa check` resolves it alike
    model_loader: str = "generator"


BACKENDS: dict[str, Backend] = {
    "table": Backend("mexa_ray.experts.table:TableExpert", TableSettings),
    "points": Backend("mexa_ray.experts.points:PointCloudExpert", PointsSettings),
    "audio": Backend("mexa_ray.experts.audio:AudioExpert", AudioSettings),
    "visual": Backend("mexa_ray.experts.visual:VisualExpert", VisualSettings),
    "text": Backend("mexa_ray.experts.text:TextExpert", TextSettings),
    "synthetic": Backend("mexa_ray.experts.synthetic:SyntheticExpert", SyntheticSettings),
    # model-backed: `model` names the weights
    "vlm": Backend("mexa_ray.experts.vision:VisionLanguageExpert", VisionSettings),
    "speech": Backend(
        "mexa_ray.experts.speech:SpeechExpert",
        SpeechSettings,
        model_loader="AutoModelForSpeechSeq2Seq",
    ),
    "speech-ct2": Backend(
        "mexa_ray.experts.speech_ct2:FasterWhisperExpert",
        FasterWhisperSettings,
        requires=("faster_whisper", "ctranslate2"),
        model_loader="ctranslate2",
    ),
    "ocr": Backend(
        "mexa_ray.experts.ocr:OCRExpert", OCRSettings, requires=("rapidocr_onnxruntime",)
    ),
    "chart": Backend(
        "mexa_ray.experts.chart:ChartExpert",
        ChartSettings,
        requires=("rapidocr_onnxruntime", "cv2"),
    ),
    "sound-events": Backend(
        "mexa_ray.experts.sound_events:SoundEventExpert",
        SoundEventSettings,
        requires=("onnxruntime",),
        model_loader="onnx",
    ),
    "audio-lm": Backend("mexa_ray.experts.audio_lm:AudioLanguageExpert", AudioLMSettings),
    "scene-vlm": Backend("mexa_ray.experts.scene3d:SceneVLMExpert", SceneVLMSettings),
    "ct-vlm": Backend("mexa_ray.experts.ct:CTExpert", CTSettings),
}

#: the registered backends by class path too, so a config naming a built-in class by its path
#: is checked at load like one naming it
BY_TARGET: dict[str, Backend] = {b.target: b for b in BACKENDS.values()}


def registered(backend: str) -> Backend | None:
    """A registered backend by its config name or class path, without importing it."""
    return BACKENDS.get(backend) or BY_TARGET.get(backend)
