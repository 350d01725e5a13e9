"""Speech expert (B1): Whisper (or any speech-seq2seq model) transcribes audio and video audio
tracks into subtitles with timestamps.

transformers' ASR pipeline does the 30-second chunking, the timestamp decoding and the batching;
this class only loads the model as the config says and formats the subtitles.
"""

from __future__ import annotations

from typing import Any

from mexa_ray.config import ExpertSpec
from mexa_ray.errors import ConfigError
from mexa_ray.experts.base import BatchedExpert, Prepared, required_model
from mexa_ray.experts.settings import SpeechSettings
from mexa_ray.media.audio import load_waveform
from mexa_ray.media.video import has_audio_track
from mexa_ray.models.hf_loading import missing_package_error
from mexa_ray.models.llm import check_device, load_kwargs, placement
from mexa_ray.models.weights import resolve_model_path
from mexa_ray.types import Media, Query, Skill

SAMPLE_RATE = 16000


def subtitle_lines(result: dict[str, Any]) -> list[str]:
    """ "[start-end s] text" per chunk; the full text when the model gave no timestamps."""
    lines = []
    for chunk in result.get("chunks") or []:
        start, end = chunk.get("timestamp") or (None, None)
        text = str(chunk.get("text", "")).strip()
        if not text:
            continue
        span = (
            f"{start:.1f}-{end:.1f}s"
            if end is not None
            else f"{start:.1f}s-end"
            if start is not None
            else "?"
        )
        lines.append(f"[{span}] {text}")
    if not lines and str(result.get("text", "")).strip():
        lines.append(str(result["text"]).strip())
    return lines


class SpeechExpert(BatchedExpert):
    """Subtitles from a transformers speech-to-text pipeline (see SpeechSettings); the batch
    size is the model spec's."""

    settings: SpeechSettings

    def __init__(self, spec: ExpertSpec, skills: dict[str, Skill]) -> None:
        super().__init__(spec, skills)
        model_spec = required_model(spec)
        from transformers import AutoModelForSpeechSeq2Seq, AutoProcessor, pipeline

        field = f"experts.{spec.name}.model"
        path = resolve_model_path(model_spec.model, field)
        self.device, dtype = placement(model_spec, field)
        try:
            processor = AutoProcessor.from_pretrained(path, **load_kwargs(model_spec))
            model = AutoModelForSpeechSeq2Seq.from_pretrained(
                path, dtype=dtype, **load_kwargs(model_spec)
            )
        except OSError as exc:
            raise ConfigError(
                f"{field}: cannot load {model_spec.label!r}: {exc}", field=field
            ) from None
        except ImportError as exc:
            raise missing_package_error(field, model_spec.label, exc) from None
        self.asr = pipeline(
            "automatic-speech-recognition",
            model=model,
            tokenizer=processor.tokenizer,
            feature_extractor=processor.feature_extractor,
            chunk_length_s=self.settings.chunk_length_s,
            device=self.device,
            dtype=dtype,
        )
        self.batch_size = model_spec.batch_size
        generate: dict[str, Any] = {"max_new_tokens": model_spec.max_new_tokens}
        if self.settings.language:
            generate["language"] = self.settings.language
        if getattr(model.generation_config, "is_multilingual", False):
            generate["task"] = "transcribe"
        self.generate_kwargs = generate

    def prepare(self, item: Media, query: Query, skill: Skill) -> Prepared:
        if item.type == "video" and not has_audio_track(item.local_path()):
            return Prepared([])  # a silent video is a fact to report, not a failure
        samples = load_waveform(item.local_path(), SAMPLE_RATE, self.settings.max_seconds)
        return Prepared([{"raw": samples, "sampling_rate": SAMPLE_RATE}])

    def infer(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # the pipeline's hints name a single input; it takes a list of them too, as here
        out = self.asr(
            inputs,  # type: ignore[arg-type]
            return_timestamps=True,
            batch_size=self.batch_size,
            generate_kwargs=dict(self.generate_kwargs),
        )
        return out if isinstance(out, list) else [out]

    def compose(
        self,
        item: Media,
        query: Query,
        skill: Skill,
        prepared: Prepared,
        outputs: list[dict[str, Any]],
    ) -> str:
        if not prepared.inputs:
            return "The video has no audio track."
        lines = subtitle_lines(outputs[0])
        return ("Subtitles:\n" + "\n".join(lines)) if lines else "No speech was recognised."

    def check_health(self) -> None:
        check_device(self.device, self.name)
