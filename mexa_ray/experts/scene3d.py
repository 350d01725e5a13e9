"""3D expert (C1, C2): the open3d geometry report, plus vision-language captions of rendered
views of the scene when a model is configured.

Views are rendered by orthographic point splatting with a depth test in NumPy: open3d's
renderer needs an OpenGL/EGL context, which headless GPU nodes and CPU CI machines often lack.
"""

from __future__ import annotations

import numpy as np

from mexa_ray.config import ExpertSpec
from mexa_ray.experts.base import Prepared
from mexa_ray.experts.generative import GenerativeExpert, image_prompt, to_pil
from mexa_ray.experts.points import _AXES, PointCloudExpert
from mexa_ray.experts.settings import PointsSettings, SceneVLMSettings
from mexa_ray.media.points import read_points
from mexa_ray.types import Media, Query, Skill


def splat(
    points: np.ndarray, colours: np.ndarray, right: int, up: int, toward: int, size: int
) -> np.ndarray:
    """An orthographic view: pixel (row, col) from the `up`/`right` axes, the point nearest the
    viewer (largest `toward` coordinate) wins each pixel; the background is white."""
    uv = points[:, [right, up]]
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    scale = (size - 1) / max(float((hi - lo).max()), 1e-9)
    col = ((uv[:, 0] - lo[0]) * scale).astype(int)
    row = (size - 1 - (uv[:, 1] - lo[1]) * scale).astype(int)
    order = np.lexsort((-points[:, toward], row, col))  # per pixel, nearest first
    pix = row[order] * size + col[order]
    first = np.concatenate([[True], pix[1:] != pix[:-1]])
    image = np.full((size * size, 3), 255, dtype=np.uint8)
    image[pix[first]] = colours[order][first]
    return image.reshape(size, size, 3)


def render_views(
    points: np.ndarray, colours: np.ndarray | None, up: int, size: int = 384
) -> list[tuple[str, np.ndarray]]:
    """A top view and a front view; without colours, points are shaded by height."""
    if colours is None or len(colours) != len(points):
        h = points[:, up]
        shade = ((h - h.min()) / max(float(np.ptp(h)), 1e-9) * 200 + 30).astype(np.uint8)
        colours = np.repeat(shade[:, None], 3, axis=1)
    else:
        colours = (np.clip(colours, 0, 1) * 255).astype(np.uint8)
    horizontal = [a for a in range(3) if a != up]
    return [
        ("top view", splat(points, colours, horizontal[0], horizontal[1], up, size)),
        ("front view", splat(points, colours, horizontal[0], up, horizontal[1], size)),
    ]


class SceneVLMExpert(GenerativeExpert):
    """The point-cloud expert's geometry report, then captions of rendered views; see
    SceneVLMSettings (the point-cloud expert's settings, view_size and instructions)."""

    settings: SceneVLMSettings

    def __init__(self, spec: ExpertSpec, skills: dict[str, Skill]) -> None:
        super().__init__(spec, skills)
        # the geometry expert gets its own settings only: the rest are not its to refuse
        geometry = self.settings.model_dump(include=set(PointsSettings.model_fields))
        self.geometry = PointCloudExpert(spec.model_copy(update={"settings": geometry}), skills)

    def prepare(self, item: Media, query: Query, skill: Skill) -> Prepared:
        pcd = read_points(item.local_path(), item.resolved_format())
        points = np.asarray(pcd.points)
        colours = np.asarray(pcd.colors) if pcd.has_colors() else None
        up = _AXES[self.settings.up_axis]
        instruction = self.instruction(skill, query)
        views = render_views(points, colours, up, self.settings.view_size)
        return Prepared(
            [image_prompt(name, to_pil(view), instruction) for name, view in views],
            header=self.geometry.describe_cloud(pcd, skill) + "\nRendered views:",
        )
