"""3D scene analysis with open3d (C1, C2): extent, density, planes, object clusters, layout."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d

from mexa_ray.experts.base import Expert
from mexa_ray.experts.colours import colour_name
from mexa_ray.experts.settings import PointsSettings
from mexa_ray.experts.text_utils import fmt_num
from mexa_ray.media.points import read_points
from mexa_ray.types import Media, Query, Skill

_AXES = {"x": 0, "y": 1, "z": 2}
#: clusters that together hold less than this share of the points left after the planes are
#: clumps of one surface, not objects
FRAGMENTS = 0.5
#: metres per coordinate unit, by `PointsSettings.units`
METRES_PER_UNIT = {"m": 1.0, "cm": 0.01, "mm": 0.001, "ft": 0.3048, "in": 0.0254}


@dataclass
class _Cluster:
    size: int
    centroid: np.ndarray
    extent: np.ndarray
    bottom: float
    colour: str | None


def _xyz(v: np.ndarray) -> str:
    return "(" + ", ".join(fmt_num(round(float(a), 2)) for a in v) + ")"


def _proportions(what: str, extent: np.ndarray, up: int, per_unit: float | None) -> str:
    """Which side is longest and shortest (width, depth, height by the up axis), as extremes
    with their axis and size."""
    names = {}
    flat = [a for a in range(3) if a != up]
    names[up] = "height"
    names[flat[0]], names[flat[1]] = "width", "depth"
    order = np.argsort(-extent)
    axis = "xyz"

    def side(a: int) -> str:
        size = _metres(extent[a] * per_unit) if per_unit else f"{fmt_num(extent[a])} units"
        return f"along {axis[a]} ({names[a]}), {size}"

    return f"Longest side of {what}: {side(order[0])}; shortest side: {side(order[2])}."


#: DBSCAN's core points need this many neighbours within its radius
MIN_POINTS = 10


def _reach(pcd: o3d.geometry.PointCloud, sample: int = 1000) -> float:
    """A radius within which a typical point has MIN_POINTS neighbours (1.5 x the median
    distance to the MIN_POINTS-th nearest one, on a sample of points): DBSCAN's k-distance rule.
    Below it a sparsely sampled surface (a scan of one statue) falls apart into dozens of
    clumps; gaps between separate objects are wider than it."""
    pts = np.asarray(pcd.points)
    if len(pts) <= MIN_POINTS:
        return 0.0
    tree = o3d.geometry.KDTreeFlann(pcd)
    rng = np.random.default_rng(0)
    picks = rng.choice(len(pts), size=min(sample, len(pts)), replace=False)
    far = [np.sqrt(tree.search_knn_vector_3d(pts[i], MIN_POINTS + 1)[2][-1]) for i in picks]
    return 1.5 * float(np.median(far))


def _metres(x: float) -> str:
    return f"{fmt_num(round(x, 3 if x < 1 else 2))} m"


def _shape_words(extent: np.ndarray, up: int) -> str:
    """The proportions in words, from the sides' ratios: what a size alone does not say."""
    height = float(extent[up])
    flat = sorted(float(extent[a]) for a in range(3) if a != up)
    sides = sorted(float(e) for e in extent)
    words = []
    if height > 1.5 * flat[1]:
        words.append("tall")
    elif height < 0.5 * flat[0]:
        words.append("low")
    if sides[0] < 0.25 * sides[1]:
        words.append("flat")
    if sides[2] > 2.5 * sides[1]:
        words.append("elongated")
    if sides[2] < 1.5 * sides[0]:
        words.append("compact (about as wide as deep and tall)")
    return " and ".join(words) or "of medium proportions"


def _dimensions(extent: np.ndarray, up: int, per_unit: float | None) -> str:
    """Height, width and depth named by the up axis, in metres when the units are known."""
    flat = [a for a in range(3) if a != up]
    axis = "xyz"
    named = [("height", up), ("width", flat[0]), ("depth", flat[1])]

    def size(a: int) -> str:
        return _metres(extent[a] * per_unit) if per_unit else f"{fmt_num(extent[a])} units"

    return ", ".join(f"{name} {size(a)} ({axis[a]})" for name, a in named)


def _is_surface(pts: np.ndarray, normal: np.ndarray, diag: float) -> bool:
    """A real plane is large and filled: its points span a good part of the scene and cover
    most cells of a 10 x 10 grid over their extent within the plane."""
    u = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(normal, u)
    uv = np.stack([pts @ u, pts @ v], axis=1)
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    if float(np.linalg.norm(hi - lo)) < 0.3 * diag:
        return False
    cells = np.floor((uv - lo) / np.maximum(hi - lo, 1e-9) * 9.999).astype(int)
    return len(np.unique(cells[:, 0] * 10 + cells[:, 1])) >= 50


class PointCloudExpert(Expert):
    """Geometry report of a point-cloud scene; z is up unless `settings.up_axis` says otherwise."""

    settings: PointsSettings

    @property
    def _per_unit(self) -> float | None:
        return METRES_PER_UNIT.get(self.settings.units)

    def describe(self, item: Media, query: Query, skill: Skill) -> str:
        return self.describe_cloud(read_points(item.local_path(), item.resolved_format()), skill)

    def describe_cloud(self, pcd: o3d.geometry.PointCloud, skill: Skill) -> str:
        """The geometry report of a cloud already read (the scene-view expert reuses it)."""
        n_raw = len(pcd.points)
        max_points = self.settings.max_points
        if n_raw > max_points:
            pcd = pcd.random_down_sample(max_points / n_raw)
        up = _AXES[self.settings.up_axis]
        pts = np.asarray(pcd.points)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        extent = hi - lo
        diag = float(np.linalg.norm(extent)) or 1.0
        nn = (
            float(np.mean(np.asarray(pcd.compute_nearest_neighbor_distance())))
            if len(pts) > 1
            else 0.0
        )
        volume = float(np.prod(np.maximum(extent, 1e-6)))
        lines = [
            f"Point cloud with {n_raw} points"
            + (f" (analysed on {len(pts)} sampled points)" if n_raw > len(pts) else "")
            + ".",
            f"Scene extent {fmt_num(extent[0])} x {fmt_num(extent[1])} x {fmt_num(extent[2])} "
            f"units (x by y by z), from {_xyz(lo)} to {_xyz(hi)}; up axis "
            f"{self.settings.up_axis}.",
            _proportions("the scene", extent, up, self._per_unit),
            f"Density: {fmt_num(n_raw / volume)} points per cubic unit of the bounding box; "
            f"mean spacing between neighbouring points {fmt_num(nn)} units.",
        ]
        rest, floor_h, plane_lines = self._planes(pcd, up, nn, diag)
        size = f"{_dimensions(extent, up, self._per_unit)}; {_shape_words(extent, up)}"
        # a cloud with no floor is taken as one scanned object: its size is the whole cloud's,
        # and its planes and clusters are its faces and parts (a scan of a box is not a room)
        noun = "object" if floor_h is not None else "part"
        lines.insert(
            2,
            f"The whole scene: {size}."
            if floor_h is not None
            else f"The object: {size}; no floor was found, so the whole cloud is taken as one "
            "object and its clusters as its parts.",
        )
        lines.extend(plane_lines)
        clusters = self._clusters(rest, nn, diag, floor_h, up)
        clustered = sum(c.size for c in clusters)
        if clusters and clustered < FRAGMENTS * len(rest.points):
            # dense clumps of one continuous surface (a scanned statue), not separate objects:
            # their sizes would only offer wrong answers to "how tall is it?"
            lines.append(
                f"No separate objects: DBSCAN found {len(clusters)} small clumps holding "
                f"{100 * clustered / len(rest.points):.0f}% of the points, parts of one "
                "continuous surface; the whole cloud's size is the object's."
            )
            return "\n".join(lines)
        lines.extend(self._cluster_lines(clusters, floor_h, up, noun))
        if skill.id == "C2" or len(clusters) > 1:
            lines.extend(self._layout_lines(clusters, (lo + hi) / 2, up, noun))
        return "\n".join(lines)

    def _planes(self, pcd, up: int, nn: float, diag: float):
        """Peel off large planes with RANSAC; returns the remaining cloud and the floor height."""
        threshold = max(2.0 * nn, 0.005 * diag)
        o3d.utility.random.seed(self.settings.seed)  # repeatable RANSAC
        total = len(pcd.points)
        rest, floor_h, lines = pcd, None, []
        for _ in range(self.settings.max_planes):
            if len(rest.points) < max(100, 0.2 * total):
                break
            model, inliers = rest.segment_plane(
                distance_threshold=threshold, ransac_n=3, num_iterations=500
            )
            if len(inliers) < self.settings.min_plane_fraction * total:
                break
            normal = np.asarray(model[:3]) / (np.linalg.norm(model[:3]) or 1.0)
            plane_pts = np.asarray(rest.points)[inliers]
            if not _is_surface(plane_pts, normal, diag):
                break  # a slice through objects, not a floor, wall or table top
            height = float(plane_pts[:, up].mean())
            share = 100.0 * len(inliers) / total
            if abs(normal[up]) > 0.9:
                if floor_h is None or height < floor_h:
                    kind = "floor" if floor_h is None else "horizontal surface"
                    floor_h = height if floor_h is None else min(floor_h, height)
                else:
                    kind = "raised horizontal surface (table top, shelf or ceiling)"
                lines.append(
                    f"Dominant plane: {kind} at height {fmt_num(height)} ({share:.0f}% of points)."
                )
            elif abs(normal[up]) < 0.2:
                centre = plane_pts.mean(axis=0)
                lines.append(
                    f"Dominant plane: vertical wall through {_xyz(centre)} with normal "
                    f"{_xyz(normal)} ({share:.0f}% of points)."
                )
            else:
                lines.append(
                    f"Dominant plane: sloped surface with normal {_xyz(normal)} "
                    f"({share:.0f}% of points)."
                )
            rest = rest.select_by_index(inliers, invert=True)
        if not lines:
            lines.append("No dominant plane (floor or wall) was found.")
        return rest, floor_h, lines

    def _clusters(self, rest, nn: float, diag: float, floor_h, up: int) -> list[_Cluster]:
        if len(rest.points) < 10:
            return []
        eps = self.settings.cluster_eps or max(3.0 * nn, 0.01 * diag, _reach(rest))
        labels = np.asarray(
            rest.cluster_dbscan(eps=eps, min_points=MIN_POINTS, print_progress=False)
        )
        pts = np.asarray(rest.points)
        cols = np.asarray(rest.colors) if rest.has_colors() else None
        min_size = max(20, int(0.005 * len(pts)))
        out = []
        for label in range(labels.max() + 1 if labels.size else 0):
            mask = labels == label
            if mask.sum() < min_size:
                continue
            p = pts[mask]
            out.append(
                _Cluster(
                    int(mask.sum()),
                    p.mean(axis=0),
                    p.max(axis=0) - p.min(axis=0),
                    float(p[:, up].min()),
                    colour_name(cols[mask].mean(axis=0)) if cols is not None else None,
                )
            )
        out.sort(key=lambda c: -c.size)
        return out

    def _cluster_lines(
        self, clusters: list[_Cluster], floor_h, up: int, noun: str = "object"
    ) -> list[str]:
        if not clusters:
            return [f"No separate {noun}s were found apart from the planes."]
        max_listed = self.settings.max_objects
        on_floor = sum(1 for c in clusters if floor_h is not None and c.bottom - floor_h < 0.05)
        lines = [
            f"{len(clusters)} separate {noun}s (DBSCAN clusters) apart from the planes"
            + (f"; {on_floor} of them stand on the floor." if floor_h is not None else ".")
        ]
        for i, c in enumerate(clusters[:max_listed], 1):
            colour = f", {c.colour}" if c.colour else ""
            above = (
                f", bottom {fmt_num(round(c.bottom - floor_h, 2))} above the floor"
                if floor_h is not None
                else ""
            )
            lines.append(
                f"{noun.capitalize()} {i}: {c.size} points{colour}, centred at {_xyz(c.centroid)}; "
                f"{_dimensions(c.extent, up, self._per_unit)}; {_shape_words(c.extent, up)}"
                f"{above}."
            )
        tallest = max(range(len(clusters)), key=lambda k: clusters[k].extent[up])
        largest = max(range(len(clusters)), key=lambda k: float(np.prod(clusters[k].extent)))
        lines.append(
            f"The largest {noun} by volume is {noun} {largest + 1}; "
            f"the tallest is {noun} {tallest + 1}."
        )
        return lines

    def _layout_lines(
        self, clusters: list[_Cluster], centre: np.ndarray, up: int, noun: str = "object"
    ) -> list[str]:
        horizontal = [a for a in range(3) if a != up]
        lines = []
        for i, c in enumerate(clusters[:4], 1):
            d = c.centroid - centre
            a, b = horizontal
            side = "right" if d[a] > 0 else "left"
            depth = "back" if d[b] > 0 else "front"
            lines.append(
                f"{noun.capitalize()} {i} is {fmt_num(abs(round(d[a], 2)))} to the {side} and "
                f"{fmt_num(abs(round(d[b], 2)))} to the {depth} of the scene centre."
            )
        for i in range(min(len(clusters), 4)):
            for j in range(i + 1, min(len(clusters), 4)):
                dist = float(np.linalg.norm(clusters[i].centroid - clusters[j].centroid))
                lines.append(
                    f"{noun.capitalize()}s {i + 1} and {j + 1} are {fmt_num(round(dist, 2))} apart."
                )
        return lines
