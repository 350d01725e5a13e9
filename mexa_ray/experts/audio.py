"""Signal analysis of audio (B2, B3): loudness, silence, pitch, onsets, tempo, character."""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np

from mexa_ray.experts.base import Expert
from mexa_ray.experts.settings import AudioSettings
from mexa_ray.experts.text_utils import fmt_num
from mexa_ray.media.audio import read_audio
from mexa_ray.types import Media, Query, Skill

_NOTES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
_EPS = 1e-10


def note_name(freq: float) -> str:
    midi = int(round(69 + 12 * np.log2(max(freq, 1e-3) / 440.0)))
    return f"{_NOTES[midi % 12]}{midi // 12 - 1}"


@overload
def _db(x: np.ndarray) -> np.ndarray: ...


@overload
def _db(x: float) -> float: ...


def _db(x: np.ndarray | float) -> np.ndarray | float:
    """Decibels of an array (element-wise) or of one value."""
    return 20.0 * np.log10(np.maximum(x, _EPS))


@dataclass
class AudioFeatures:
    duration_s: float
    sample_rate: int
    rms_db: float
    peak_db: float
    segment_db: list[tuple[float, float, float]]
    silence_ratio: float
    peaks_hz: list[float]
    pitch_hz: float | None
    pitch_spread_semitones: float
    flatness: float
    centroid_hz: float
    onset_times: list[float]
    tempo_bpm: float | None
    modulation_ratio: float

    @property
    def character(self) -> str:
        if self.rms_db < -60:
            return "silent"
        if self.flatness > 0.3:
            return "noise-like (broadband, without a clear pitch)"
        if (
            self.modulation_ratio > 0.35
            and self.pitch_spread_semitones > 1.5
            and 0.05 < self.silence_ratio < 0.6
        ):
            return "speech-like (syllable-rate loudness changes with a moving pitch)"
        if len(self.onset_times) >= 3 or self.pitch_spread_semitones > 1.0:
            return "music-like (tonal and rhythmic: separate pitched notes)"
        return "music-like (a steady tone: a single sustained pitch)"


def analyse_audio(x: np.ndarray, sr: int) -> AudioFeatures:
    """Frame-level features from a mono signal; 40 ms frames with a 20 ms hop."""
    frame, hop = max(256, int(0.04 * sr)), max(128, int(0.02 * sr))
    if len(x) < frame:
        x = np.pad(x, (0, frame - len(x)))
    n = 1 + (len(x) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    frames = x[idx] * np.hanning(frame)[None, :]
    rms = np.sqrt(np.mean(x[idx] ** 2, axis=1))
    frame_db = _db(rms)
    spec = np.abs(np.fft.rfft(frames, axis=1))
    freqs = np.fft.rfftfreq(frame, 1.0 / sr)
    duration = len(x) / sr
    times = np.arange(n) * hop / sr

    loud_floor = max(-50.0, float(frame_db.max()) - 35.0)
    voiced = frame_db > loud_floor
    silence_ratio = float(1.0 - voiced.mean())

    segments = min(8, max(1, int(np.ceil(duration))))
    bounds = np.linspace(0, duration, segments + 1)
    segment_db = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        seg = x[int(a * sr) : max(int(b * sr), int(a * sr) + 1)]
        segment_db.append((float(a), float(b), float(_db(np.sqrt(np.mean(seg**2))))))

    power = spec**2 + _EPS
    flatness = float(np.median(np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)))
    centroid = float(np.median((spec * freqs).sum(axis=1) / (spec.sum(axis=1) + _EPS)))

    band = (freqs >= 50) & (freqs <= 4000)
    # peaks on a 4x zero-padded spectrum of at most 2000 loud frames: ~6 Hz resolution at 16 kHz
    loud = frames[voiced] if voiced.any() else frames
    loud = loud[np.linspace(0, len(loud) - 1, min(len(loud), 2000)).astype(int)]
    fine = np.abs(np.fft.rfft(loud, n=4 * frame, axis=1)).mean(axis=0)
    fine_freqs = np.fft.rfftfreq(4 * frame, 1.0 / sr)
    peaks_hz = _spectral_peaks(fine, fine_freqs, (fine_freqs >= 50) & (fine_freqs <= 4000))
    pitches = freqs[band][np.argmax(spec[:, band], axis=1)][voiced] if voiced.any() else []
    pitch = float(np.median(pitches)) if len(pitches) else None
    spread = float(np.std(12 * np.log2(np.asarray(pitches) / pitch))) if pitch else 0.0

    log_spec = np.log1p(spec)
    flux = np.concatenate([[0.0], np.maximum(np.diff(log_spec, axis=0), 0).sum(axis=1)])
    # an onset must also be a real change: a tenth of a typical frame's log-spectral mass
    onsets = _pick_onsets(flux, times, min_gap=0.1, floor=0.1 * float(log_spec.sum(axis=1).mean()))
    tempo = _tempo(flux, hop / sr) if len(onsets) >= 4 else None

    env = rms - rms.mean()
    env_spec = np.abs(np.fft.rfft(env)) ** 2
    env_freqs = np.fft.rfftfreq(len(env), hop / sr)
    total = env_spec[1:].sum() + _EPS
    modulation = float(env_spec[(env_freqs >= 2) & (env_freqs <= 8)].sum() / total)

    return AudioFeatures(
        duration,
        sr,
        float(_db(np.sqrt(np.mean(x**2)))),
        float(_db(np.abs(x).max())),
        segment_db,
        silence_ratio,
        peaks_hz,
        pitch,
        spread,
        flatness,
        centroid,
        onsets,
        tempo,
        modulation,
    )


def _spectral_peaks(mag: np.ndarray, freqs: np.ndarray, band: np.ndarray, top: int = 4):
    m = np.where(band, mag, 0.0)
    is_peak = (m[1:-1] > m[:-2]) & (m[1:-1] >= m[2:]) & (m[1:-1] > 0.1 * m.max())
    cand = np.nonzero(is_peak)[0] + 1
    cand = cand[np.argsort(-m[cand])][:top]
    return [float(freqs[i]) for i in cand]


def _pick_onsets(flux: np.ndarray, times: np.ndarray, min_gap: float, floor: float) -> list[float]:
    if flux.max() <= 0:
        return []
    threshold = max(np.median(flux) + 2.0 * np.std(flux), floor)
    out: list[float] = []
    for i in range(1, len(flux) - 1):
        if flux[i] > threshold and flux[i] >= flux[i - 1] and flux[i] >= flux[i + 1]:
            if not out or times[i] - out[-1] >= min_gap:
                out.append(float(times[i]))
    return out


def _tempo(flux: np.ndarray, hop_s: float) -> float | None:
    """Beats per minute from the autocorrelation of the onset envelope, 40-200 BPM."""
    env = flux - flux.mean()
    ac = np.correlate(env, env, mode="full")[len(env) - 1 :]
    lags = np.arange(len(ac)) * hop_s
    ok = (lags >= 60 / 200) & (lags <= 60 / 40)
    if not ok.any() or ac[0] <= 0:
        return None
    best = np.nonzero(ok)[0][np.argmax(ac[ok])]
    return float(60.0 / lags[best]) if ac[best] > 0.2 * ac[0] else None


class AudioExpert(Expert):
    """Describes an audio clip from its signal; no model, so it cannot transcribe speech."""

    settings: AudioSettings

    def describe(self, item: Media, query: Query, skill: Skill) -> str:
        x, sr = read_audio(item.local_path(), max_seconds=self.settings.max_seconds)
        f = analyse_audio(x, sr)
        lines = [
            f"Audio clip: duration {fmt_num(round(f.duration_s, 2))} s, sample rate "
            f"{f.sample_rate} Hz.",
            f"Sound character: {f.character}.",
            f"Overall loudness {fmt_num(round(f.rms_db, 1))} dBFS RMS, "
            f"peak {fmt_num(round(f.peak_db, 1))} dBFS.",
            "Loudness over time: "
            + ", ".join(
                f"{fmt_num(round(a, 1))}-{fmt_num(round(b, 1))}s {fmt_num(round(d, 1))} dB"
                for a, b, d in f.segment_db
            )
            + ".",
            f"Silence makes up {100 * f.silence_ratio:.0f}% of the clip.",
        ]
        if f.peaks_hz:
            lines.append(
                "Dominant frequencies: "
                + ", ".join(f"{fmt_num(round(h))} Hz ({note_name(h)})" for h in f.peaks_hz)
                + "."
            )
        if f.pitch_hz:
            lines.append(
                f"Median pitch about {fmt_num(round(f.pitch_hz))} Hz "
                f"({note_name(f.pitch_hz)}), varying by "
                f"{fmt_num(round(f.pitch_spread_semitones, 1))} semitones."
            )
        lines.append(
            f"Spectral flatness {fmt_num(round(f.flatness, 3))} (0 pure tone, 1 white "
            f"noise); spectral centroid {fmt_num(round(f.centroid_hz))} Hz."
        )
        rate = len(f.onset_times) / f.duration_s if f.duration_s else 0.0
        lines.append(
            f"{len(f.onset_times)} note or sound onsets ({fmt_num(round(rate, 2))} per "
            "second)"
            + (
                ": at " + ", ".join(f"{t:.2f}s" for t in f.onset_times[:12])
                if f.onset_times
                else ""
            )
            + "."
        )
        if skill.id == "B3" or f.tempo_bpm:
            lines.append(
                f"Estimated tempo {fmt_num(round(f.tempo_bpm))} beats per minute."
                if f.tempo_bpm
                else "No steady beat was detected."
            )
        return "\n".join(lines)
