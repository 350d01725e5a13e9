"""Each offline expert on generated input: the report states facts that are true of the input."""

import re

import pytest

from mexa_ray.config import load_config, parse_config
from mexa_ray.errors import SyntheticExpertError
from mexa_ray.experts import build_expert
from mexa_ray.media import samples
from mexa_ray.types import Media, Query

CONFIG = load_config("analytic")
SKILLS = CONFIG.skill_catalogue()


def report(expert: str, kind: str, path, skill: str, question: str = "Describe it.") -> str:
    e = build_expert(CONFIG.expert(expert), SKILLS)
    q = Query(question, media=[Media(type=kind, path=str(path), format=path.suffix[1:])])
    r = e.run(q, skill)
    assert r.expert == expert and r.skill == skill and r.latency_s >= 0
    return r.text


def test_table_profile(media_dir):
    text = report(
        "table-profiler",
        "table",
        media_dir / "breast_cancer.csv",
        "F2",
        "Which tumour has the highest mean radius?",
    )
    assert "569 rows and 11 columns" in text
    assert "'benign' in 357 rows (62.7%)" in text
    assert "the most common value is 'benign'" in text
    assert "Row 212 (highest mean radius)" in text  # 28.11, the maximum


def test_point_cloud_scene(media_dir):
    text = report("scene-geometry", "points", media_dir / "room.ply", "C1")
    assert "Dominant plane: floor" in text
    assert "vertical wall" in text
    assert "3 separate objects" in text and "3 of them stand on the floor" in text
    assert "red" in text and "blue" in text and "brown" in text


def test_point_cloud_from_numpy(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    blob_a = rng.normal((0, 0, 0), 0.05, (500, 3))
    blob_b = rng.normal((2, 0, 0), 0.05, (500, 3))
    path = tmp_path / "two.npy"
    np.save(path, np.vstack([blob_a, blob_b]))
    text = report("scene-geometry", "points", path, "C2")
    # no floor: the cloud is taken as one object, and its clusters as its parts
    assert "The object: " in text and "2 separate parts" in text
    distance = float(re.search(r"Parts 1 and 2 are ([\d.]+) apart", text).group(1))
    assert distance == pytest.approx(2.0, abs=0.05)  # the blobs' centres are 2 units apart


def test_point_cloud_sizes_in_metres_and_shape_words(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    # a box 0.4 wide (x), 0.3 deep (y) and 1.2 tall (z), sampled on its surface and inside
    box = rng.uniform((0, 0, 0), (0.4, 0.3, 1.2), (4000, 3))
    path = tmp_path / "box.npy"
    np.save(path, box)
    text = report("scene-geometry", "points", path, "C1")
    whole = next(line for line in text.splitlines() if line.startswith("The object: "))
    assert re.search(r"height 1\.\d+ m \(z\), width 0\.\d+ m \(x\), depth 0\.\d+ m \(y\)", whole)
    height = float(re.search(r"height ([\d.]+) m", whole).group(1))
    assert height == pytest.approx(1.2, abs=0.02)
    assert "; tall and elongated;" in whole  # 1.2 is over 2.5 times its 0.4 width


def test_point_cloud_units_in_centimetres_are_reported_in_metres(tmp_path):
    import numpy as np

    from mexa_ray.experts.points import PointCloudExpert
    from mexa_ray.experts.settings import PointsSettings

    rng = np.random.default_rng(1)
    path = tmp_path / "cm.npy"
    np.save(path, rng.uniform((0, 0, 0), (50, 50, 80), (3000, 3)))  # centimetres
    expert = PointCloudExpert.__new__(PointCloudExpert)
    expert.settings = PointsSettings(units="cm")
    import open3d as o3d

    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.load(path)))
    text = expert.describe_cloud(pcd, SKILLS["C1"])
    height = float(re.search(r"height ([\d.]+) m \(z\)", text).group(1))
    assert height == pytest.approx(0.8, abs=0.02)
    expert.settings = PointsSettings(units="unknown")
    unknown = expert.describe_cloud(pcd, SKILLS["C1"])
    assert re.search(r"height (79\.9\d*|80) units \(z\)", unknown) and " m (z)" not in unknown


def test_clumps_holding_few_of_the_points_are_not_listed_as_objects():
    import numpy as np
    import open3d as o3d

    from mexa_ray.experts.points import PointCloudExpert
    from mexa_ray.experts.settings import PointsSettings

    rng = np.random.default_rng(2)
    sparse = rng.uniform(0, 1, (2000, 3))  # neighbours ~0.05 apart: DBSCAN noise at eps 0.02
    clumps = [rng.normal(c, 0.003, (40, 3)) for c in ((0.2, 0.2, 0.2), (0.7, 0.5, 0.3))]
    expert = PointCloudExpert.__new__(PointCloudExpert)
    expert.settings = PointsSettings(cluster_eps=0.02, max_planes=0)
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.vstack([sparse, *clumps])))
    text = expert.describe_cloud(cloud, SKILLS["C1"])
    assert "No separate objects: DBSCAN found 2 small clumps holding 4% of the points" in text
    assert "Part 1:" not in text
    # the same clumps alone are two parts (no floor: one object), each with its size
    alone = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.vstack(clumps)))
    text = expert.describe_cloud(alone, SKILLS["C1"])
    assert "2 separate parts" in text and re.search(r"Part 1: 40 points.*height 0\.0\d+ m", text)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: samples.make_tone(p, 440.0), ["A4", "steady tone"]),
        (samples.make_noise, ["noise-like"]),
        (
            samples.make_melody,
            ["tonal and rhythmic", "Estimated tempo 120 beats per minute", "C4", "E4", "G4", "C5"],
        ),
    ],
)
def test_audio_signal(tmp_path, make, expected):
    path = make(tmp_path / "clip.wav")
    text = report("audio-signal", "audio", path, "B3")
    for phrase in expected:
        assert phrase in text


def test_video_motion_and_cuts(media_dir):
    text = report("visual-stats", "video", media_dir / "red_square.mp4", "A1")
    assert "30 frames at 10 fps" in text
    assert "1 scene cut at 2.00s" in text
    assert "moving red region travels rightwards" in text


def test_image_layout_and_short_caption(media_dir):
    path = media_dir / "green_disc.png"
    detailed = report("visual-stats", "image", path, "A2")
    assert "Shapes: a green circle at the centre" in detailed
    assert "Background colour: plain white." in detailed and "Object colours: green" in detailed
    short = report("visual-stats", "image", path, "A3")
    assert short.count("\n") == 1  # header + one sentence
    assert "a green circle at the centre, on a plain white background" in short


def test_text_is_passed_through_within_its_limit(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("word " * 2000)
    text = report("text-reader", "text", path, "T1")
    assert "Text of 2000 words (first 4000 of 10000 characters)" in text


def test_expert_refuses_a_skill_it_lacks(media_dir):
    e = build_expert(CONFIG.expert("table-profiler"), SKILLS)
    with pytest.raises(ValueError, match="no skill 'A1'"):
        e.run(Query("q"), "A1")


def test_synthetic_expert_fails_on_request():
    spec = parse_config(
        {
            "experts": [
                {
                    "name": "b",
                    "backend": "synthetic",
                    "modalities": ["text"],
                    "skills": ["T1"],
                    "description": "d",
                    "settings": {"fail": True},
                }
            ]
        }
    ).experts[0]
    with pytest.raises(SyntheticExpertError):
        build_expert(spec, SKILLS).run(Query("q"), "T1")
