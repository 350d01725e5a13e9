"""The bulk evaluation job end to end on Ray Data (the session's local Ray): real annotation
records, generated stand-in media, the default offline experts; resume after a limit and after
the driver is killed mid-run; the report checked against a recomputation from the parquet."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

from mexa_ray.bulk.job import evaluate
from mexa_ray.bulk.store import predictions_dir, read_predictions
from mexa_ray.config import load_config
from mexa_ray.datasets import get_benchmark
from mexa_ray.datasets.scoring import exact_match

pytestmark = pytest.mark.data

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "benchmarks"
MMAU_FILE = DATA / "mmau" / "mmau-test-mini.json"
SQA3D_FILE = DATA / "sqa3d" / "v1_balanced_questions_test_scannetv2.json"

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from standin import media_path, write_standin  # noqa: E402 - test support shared with benchmarks/


@pytest.fixture(scope="module")
def mmau_media(tmp_path_factory) -> tuple[Path, set[str]]:
    """Stand-in clips for every MMAU item but every 15th; returns (root, ids without media)."""
    root = tmp_path_factory.mktemp("mmau-media")
    absent = set()
    for i, item in enumerate(get_benchmark("mmau").load(MMAU_FILE)):
        if i % 15 == 7:
            absent.add(item.id)
        else:
            write_standin(item, root, seed=i)
    return root, absent


@pytest.fixture(scope="module")
def sqa3d_media(tmp_path_factory) -> tuple[Path, str]:
    """Scenes in both layouts the adapter accepts; one scene left out. Returns (root, absent)."""
    root = tmp_path_factory.mktemp("sqa3d-media")
    items = get_benchmark("sqa3d").load(SQA3D_FILE)
    scenes = sorted({Path(i.media[0].paths[1]).stem for i in items})
    absent = scenes[-1]
    for k, scene in enumerate(scenes[:-1]):
        item = next(i for i in items if i.media[0].paths[1] == f"{scene}.ply")
        if k == 1:  # the flat layout: <scene>.ply
            item.media[0].paths = item.media[0].paths[1:]
        write_standin(item, root, seed=k)
    return root, absent


def table(out: Path):
    return pq.read_table(predictions_dir(out))


def recompute(out: Path) -> dict:
    """Accuracy overall and by category straight from the parquet, independently of the report."""
    t = table(out)
    ok = t.filter(pc.equal(t["status"], "ok"))
    grouped = ok.group_by("category").aggregate([("correct", "count"), ("correct", "sum")])
    by_cat = {
        r["category"]: {
            "items": r["correct_count"],
            "correct": r["correct_sum"],
            "accuracy": r["correct_sum"] / r["correct_count"],
        }
        for r in grouped.to_pylist()
    }
    correct = pc.sum(ok["correct"]).as_py()
    return {
        "items": t.num_rows,
        "scored": ok.num_rows,
        "correct": correct,
        "accuracy": correct / ok.num_rows,
        "by_category": dict(sorted(by_cat.items())),
        "status": dict(Counter(t["status"].to_pylist())),
    }


def check_report(out: Path) -> dict:
    report = json.loads((out / "report.json").read_text())
    expected = recompute(out)
    for key in ("items", "scored", "correct", "by_category", "status"):
        assert report[key] == expected[key], key
    assert report["accuracy"] == pytest.approx(expected["accuracy"])
    md = (out / "report.md").read_text()
    assert f"**Accuracy: {100 * expected['accuracy']:.1f}%**" in md
    for cat, v in expected["by_category"].items():
        assert f"| {cat} | {v['items']} | {v['correct']} | {100 * v['accuracy']:.1f}% |" in md
    for png in ("accuracy_by_category.png", "skill_frequency.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return report


def test_mmau_through_the_job_resumes_and_reports(ray_session, mmau_media, tmp_path):
    media_root, absent = mmau_media
    out = tmp_path / "mmau"
    items = get_benchmark("mmau").load(MMAU_FILE)
    first = evaluate("mmau", MMAU_FILE, media_root, out, limit=60, config="analytic")
    assert first["run"]["items"] == 60 and table(out).num_rows == 60
    # resumes: only the other 90 run
    second = evaluate("mmau", MMAU_FILE, media_root, out, config="analytic")
    assert second["run"] == dict(second["run"], items=90, skipped=60)

    t = table(out)
    rows = {r["id"]: r for r in t.to_pylist()}
    assert t.num_rows == len(rows) == 150 and set(rows) == {i.id for i in items}
    assert Counter(r["run_id"] for r in rows.values()).most_common()[0][1] == 90
    for item in items:
        r = rows[item.id]
        assert r["category"] == item.category and r["subcategory"] == item.subcategory
        if item.id in absent:
            assert r["status"] == "missing_media" and r["correct"] is None
            assert str(media_path(item, media_root)) in r["status_detail"]
            continue
        assert r["status"] == "ok", r["status_detail"]
        # the default app: embedding router -> the audio expert -> evidence-ranking aggregator
        assert set(r["skills"]) <= {"B2", "B3"} and r["skills"]
        reports = json.loads(r["reports"])
        assert [x["expert"] for x in reports] == ["audio-signal"] and "Audio clip" in reports[0][
            "text"
        ]
        assert json.loads(r["missing"]) == [] and r["aggregator"] == "evidence-ranking"
        assert 0 <= r["option_index"] < len(item.options)
        assert r["correct"] == (item.options[r["option_index"]] == item.answer)  # MMAU's rule
        assert set(json.loads(r["timings"])) == {
            "query",
            "select",
            "expert:audio-signal",
            "aggregate",
        }
    report = check_report(out)
    assert report["status"] == {"missing_media": len(absent), "ok": 150 - len(absent)}
    assert set(report["by_category"]) == {"sound", "speech", "music"}
    assert [r["items"] for r in report["runs"]] == [60, 90]
    md = (out / "report.md").read_text()
    assert "## Accuracy by sub-category" in md and "| B2 |" in md

    # another run over the same media with the same report cache reruns no expert
    again = evaluate(
        "mmau",
        MMAU_FILE,
        media_root,
        tmp_path / "again",
        limit=10,
        cache=out / "cache",
        config="analytic",
    )
    assert again["run"]["items"] == 10
    redo = {r["id"]: r for r in table(tmp_path / "again").to_pylist()}
    for rid, r in redo.items():
        if r["status"] == "ok":
            assert all(x["cached"] for x in json.loads(r["reports"]))
            assert (r["prediction"], r["correct"]) == (
                rows[rid]["prediction"],
                rows[rid]["correct"],
            )


def test_sqa3d_through_the_job(ray_session, sqa3d_media, tmp_path):
    media_root, absent_scene = sqa3d_media
    out = tmp_path / "sqa3d"
    summary = evaluate("sqa3d", SQA3D_FILE, media_root, out, config="analytic")
    items = {i.id: i for i in get_benchmark("sqa3d").load(SQA3D_FILE)}
    rows = table(out).to_pylist()
    assert len(rows) == len(items) == 103
    for r in rows:
        scene = Path(items[r["id"]].media[0].paths[1]).stem
        if scene == absent_scene:
            assert r["status"] == "missing_media" and absent_scene in r["status_detail"]
            continue
        assert r["status"] == "ok", r["status_detail"]
        assert json.loads(r["media"])[0]["path"].endswith(".ply")
        assert set(r["skills"]) <= {"C1", "C2"} and r["skills"]
        assert "scene-geometry" in {x["expert"] for x in json.loads(r["reports"])}
        assert r["correct"] == exact_match(r["prediction"], items[r["id"]].answer)
    assert summary["status"]["missing_media"] == sum(
        Path(i.media[0].paths[1]).stem == absent_scene for i in items.values()
    )
    report = check_report(out)
    assert set(report["by_category"]) <= {"What", "Is", "How", "Can", "Which", "Others"}


def complete_parquet(folder: Path) -> bool:
    """Whether some result file is whole: a file can show up while it is still being written
    (CI once killed the job at that moment, and the rerun rightly kept nothing of it)."""
    import pyarrow.parquet as pq

    for path in folder.glob("*.parquet"):
        try:
            if pq.read_metadata(path).num_rows > 0:
                return True
        except (OSError, ValueError):  # ArrowInvalid is a ValueError: footer not written yet
            continue
    return False


def test_a_killed_job_resumes_with_every_item_once(ray_session, mmau_media, tmp_path):
    """The driver is killed (SIGKILL) once some results are on disk; the rerun completes the
    benchmark and the union holds every item exactly once."""
    media_root, absent = mmau_media
    data = load_config("analytic").model_dump(mode="json")
    for spec in data["experts"]:
        spec["bulk"]["batch_size"] = 5
        if spec["name"] == "audio-signal":  # slow enough that the kill lands mid-run
            spec.update(backend="synthetic", settings={"delay_s": 0.06})
    for stage in ("router", "aggregator"):
        data[stage]["bulk"]["batch_size"] = 5
    config = tmp_path / "slow.yaml"
    config.write_text(yaml.safe_dump(data))
    out = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "mexa_ray.bulk",
        "--benchmark",
        "mmau",
        "--annotations",
        str(MMAU_FILE),
        "--media-root",
        str(media_root),
        "--out",
        str(out),
        "--config",
        str(config),
    ]
    env = dict(os.environ, RAY_ADDRESS=ray_session, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 120
        while not complete_parquet(predictions_dir(out)) and time.time() < deadline:
            assert proc.poll() is None, f"the job ended before it wrote anything: {proc.returncode}"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL  # killed, not finished
    summary = evaluate("mmau", MMAU_FILE, media_root, out, config=str(config))
    assert 0 < summary["run"]["skipped"] < 150, summary["run"]
    assert summary["run"]["items"] + summary["run"]["skipped"] == 150
    ids = read_predictions(out)["id"].to_pylist()
    assert len(ids) == len(set(ids)) == 150
    assert summary["status"] == {"missing_media": len(absent), "ok": 150 - len(absent)}


def test_an_expert_past_its_timeout_is_missing_and_the_job_goes_on(
    ray_session, mmau_media, tmp_path
):
    """An expert that hangs (a 30 s sleep, timeout_s 1) is missing from each item that chose
    it, as in Serve, and every item is still answered."""
    media_root, absent = mmau_media
    data = load_config("analytic").model_dump(mode="json")
    for spec in data["experts"]:
        if spec["name"] == "audio-signal":
            spec.update(backend="synthetic", settings={"delay_s": 30}, timeout_s=1)
    config = tmp_path / "hang.yaml"
    config.write_text(yaml.safe_dump(data))
    out = tmp_path / "hang"
    summary = evaluate("mmau", MMAU_FILE, media_root, out, config=str(config), limit=6, cache=False)
    assert summary["run"]["items"] == 6
    rows = read_predictions(out).to_pylist()
    chose = [r for r in rows if "audio-signal" in r["selected"]]
    assert chose, "no item chose the hanging expert"
    for row in chose:
        [missing] = [m for m in json.loads(row["missing"]) if m["expert"] == "audio-signal"]
        assert missing["reason"].startswith("timed out after ")
        assert missing["reason"].endswith("(expert timeout)")
        assert row["answer"]  # answered from the other reports
    assert not any(
        r["expert"] == "audio-signal" for row in chose for r in json.loads(row["reports"])
    )


def test_model_router_expert_and_lrm_run_batched_in_actor_pools(
    ray_session, mmau_media, tiny, tmp_path
):
    """The tiny LLM router, a tiny Whisper expert and the tiny LRM, each loaded once per actor
    and fed whole batches by the job."""
    from conftest import LRM_REPLY

    media_root, absent = mmau_media
    config = tmp_path / "tiny.yaml"
    bulk = {"actors": 1, "batch_size": 8, "num_cpus": 0.2}
    config.write_text(
        yaml.safe_dump(
            {
                "name": "mexa-tiny-eval",
                "router": {
                    "kind": "llm",
                    "llm": {"model": str(tiny["router"]), "max_new_tokens": 16},
                    "bulk": bulk,
                },
                "aggregator": {
                    "kind": "lrm",
                    "llm": {"model": str(tiny["lrm"]), "max_new_tokens": 48},
                    "bulk": bulk,
                },
                # the taught router always names B2: the Whisper expert offers it first
                "experts": [
                    {
                        "name": "asr",
                        "backend": "speech",
                        "modalities": ["audio"],
                        "skills": ["B2"],
                        "description": "Tiny Whisper transcribes the clip.",
                        "model": {"model": str(tiny["whisper"]), "max_new_tokens": 8},
                        "bulk": bulk,
                    }
                ],
            }
        )
    )
    out = tmp_path / "tiny"
    summary = evaluate("mmau", MMAU_FILE, media_root, out, config=str(config), limit=24)
    rows = [r for r in table(out).to_pylist() if r["status"] == "ok"]
    assert len(rows) == 24 - sum(i.id in absent for i in get_benchmark("mmau").load(MMAU_FILE)[:24])
    for r in rows:
        assert r["router"] == f"llm:{tiny['router']}" and r["skills"] == ["B2"]
        assert any("Z9" in n for n in r["notes"])  # the unknown id the router named, dropped
        (report,) = json.loads(r["reports"])
        assert report["expert"] == "asr"
        assert r["aggregator"] == f"lrm:{tiny['lrm']}"
        assert r["option_index"] == 1 and r["reasoning"] == LRM_REPLY.split("</think>")[0][7:]
    assert summary["experts"]["asr"]["selected"] == len(rows)
    # stand-in clips repeat: each distinct clip is transcribed once, the rest come from the cache
    clips = {json.loads(r["media"])[0]["sha256"] for r in rows}
    fresh = sum(not json.loads(r["reports"])[0]["cached"] for r in rows)
    assert fresh == len(clips) < len(rows)


def test_the_job_admits_media_as_the_ingress_does(ray_session, tmp_path):
    """Files outside --media-root (by `../` or an absolute path), corrupt files and recordings
    past the duration limit are refused as the HTTP ingress refuses them: scored as bad media,
    never read by an expert; a good file next to them is answered."""
    import numpy as np
    import soundfile as sf

    root = tmp_path / "media"
    root.mkdir()
    tone = np.sin(np.linspace(0, 2 * np.pi * 440, 16000)).astype("float32")
    sf.write(root / "good.wav", tone, 16000)
    sf.write(root / "long.wav", np.tile(tone, 5), 16000)  # 5 s
    (root / "corrupt.wav").write_bytes(b"RIFF" + os.urandom(2000))
    sf.write(tmp_path / "outside.wav", tone, 16000)
    cases = {
        "good": "good.wav",
        "dotdot": "../outside.wav",
        "absolute": str(tmp_path / "outside.wav"),
        "corrupt": "corrupt.wav",
        "long": "long.wav",
        "absent": "nowhere.wav",
    }
    annotations = tmp_path / "items.jsonl"
    annotations.write_text(
        "".join(
            json.dumps(
                {
                    "id": name,
                    "question": "Is there a tone?",
                    "options": ["yes", "no"],
                    "answer": "yes",
                    "media": [{"type": "audio", "path": path}],
                }
            )
            + "\n"
            for name, path in cases.items()
        )
    )
    data = load_config("analytic").model_dump(mode="json")
    data["media"]["max_seconds"] = 3
    config = tmp_path / "limits.yaml"
    config.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    evaluate("generic", annotations, root, out, config=str(config), cache=False)
    rows = {r["id"]: r for r in read_predictions(out).to_pylist()}
    assert rows["good"]["status"] == "ok" and rows["good"]["reports"] != "[]"
    assert rows["absent"]["status"] == "missing_media"
    for name in ("dotdot", "absolute"):
        assert rows[name]["status"] == "bad_media", name
        assert "outside the allowed media roots" in rows[name]["status_detail"], name
    assert rows["corrupt"]["status"] == "bad_media"
    assert "cannot read audio" in rows["corrupt"]["status_detail"]
    assert rows["long"]["status"] == "bad_media"
    assert "lasts 5.0 s; the limit is 3 s" in rows["long"]["status_detail"]
    for name in ("dotdot", "absolute", "corrupt", "long", "absent"):
        assert rows[name]["reports"] in (None, "", "[]"), name
