"""CT expert (D1): a 3D volume sampled as slices along each axis, each described by a
vision-language model, with the volume's intensity statistics."""

from __future__ import annotations

import numpy as np

from mexa_ray.experts.base import Prepared
from mexa_ray.experts.generative import GenerativeExpert, image_prompt, to_pil
from mexa_ray.experts.settings import CTSettings
from mexa_ray.experts.text_utils import fmt_num
from mexa_ray.media.volume import read_volume
from mexa_ray.types import Media, Query, Skill

#: M3D stores volumes as (depth, height, width): axis 0 walks axial slices
AXES = ("axial", "coronal", "sagittal")


def window(slice_: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """A slice as an 8-bit grey RGB image under a display window [lo, hi]."""
    scaled = np.clip((slice_.astype(np.float32) - lo) / max(hi - lo, 1e-6), 0, 1) * 255
    grey = scaled.astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def sample_slices(vol: np.ndarray, per_axis: int) -> list[tuple[str, np.ndarray]]:
    """`per_axis` slices spread over the middle 80% of each axis, labelled by plane and index."""
    out = []
    for axis, plane in enumerate(AXES):
        n = vol.shape[axis]
        for k in np.linspace(0.1 * (n - 1), 0.9 * (n - 1), per_axis).round().astype(int):
            out.append((f"{plane} slice {k + 1}/{n}", np.take(vol, int(k), axis=axis)))
    return out


class CTExpert(GenerativeExpert):
    """Describes slices along each axis of a volume, with its statistics; see CTSettings."""

    settings: CTSettings

    def prepare(self, item: Media, query: Query, skill: Skill) -> Prepared:
        vol = read_volume(item.local_path())
        lo, hi = self.settings.window or np.percentile(vol, [1, 99]).tolist()
        instruction = self.instruction(skill, query)
        max_side = self.settings.max_side
        prompts = [
            image_prompt(label, to_pil(window(sl, float(lo), float(hi)), max_side), instruction)
            for label, sl in sample_slices(vol, self.settings.slices_per_axis)
        ]
        stats = (
            f"CT volume of shape {' x '.join(str(d) for d in vol.shape)} (depth x height x "
            f"width); intensities from {fmt_num(float(vol.min()))} to "
            f"{fmt_num(float(vol.max()))}, mean {fmt_num(round(float(vol.mean()), 1))}."
        )
        return Prepared(prompts, header=f"{stats}\nSlice descriptions:")
