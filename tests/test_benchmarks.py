"""Benchmark adapters on the real annotation formats, scoring rules, the report cache, the
output store and the report's arithmetic. No Ray here; the job itself is in test_eval_job.py."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mexa_ray.bulk.cache import ReportCache, cache_key
from mexa_ray.bulk.report import render_markdown, summarise
from mexa_ray.bulk.rows import OUTPUT_SCHEMA, empty_row, to_table
from mexa_ray.bulk.store import completed_ids, predictions_dir, read_predictions
from mexa_ray.config import load_config
from mexa_ray.datasets import get_benchmark
from mexa_ray.datasets.scoring import exact_match, gold_index, normalise, option_match
from mexa_ray.datasets.sqa3d import question_type
from mexa_ray.errors import BenchmarkError
from mexa_ray.experts import build_expert
from mexa_ray.types import ExpertReport, Media, Query

DATA = Path(__file__).parent / "data" / "benchmarks"
MMAU_FILE = DATA / "mmau" / "mmau-test-mini.json"
SQA3D_QUESTIONS = DATA / "sqa3d" / "v1_balanced_questions_test_scannetv2.json"


def test_mmau_adapter_reads_the_published_format():
    raw = json.loads(MMAU_FILE.read_text())
    items = get_benchmark("mmau").load(MMAU_FILE)
    assert len(items) == len(raw) == 150
    assert Counter(i.category for i in items) == {"sound": 50, "speech": 50, "music": 50}
    first = items[0]
    assert first.id == raw[0]["id"] and first.options == raw[0]["choices"]
    assert first.answer == raw[0]["answer"] and first.subcategory == raw[0]["sub-category"]
    # "./test-mini-audios/<id>.wav" is relative to the media root
    assert first.media[0].type == "audio"
    assert first.media[0].paths == [raw[0]["audio_id"].removeprefix("./")]
    assert all(i.answer in i.options for i in items)


@pytest.mark.parametrize("given", ["questions", "annotations", "folder"])
def test_sqa3d_adapter_joins_questions_and_answers(given):
    path = {
        "questions": SQA3D_QUESTIONS,
        "folder": SQA3D_QUESTIONS.parent,
        "annotations": SQA3D_QUESTIONS.with_name("v1_balanced_sqa_annotations_test_scannetv2.json"),
    }[given]
    items = get_benchmark("sqa3d").load(path)
    raw_q = json.loads(SQA3D_QUESTIONS.read_text())["questions"]
    raw_a = {
        a["question_id"]: a
        for a in json.loads(
            SQA3D_QUESTIONS.with_name("v1_balanced_sqa_annotations_test_scannetv2.json").read_text()
        )["annotations"]
    }
    assert len(items) == len(raw_q) == 103
    for item, q in zip(items, raw_q):
        assert item.id == str(q["question_id"])
        assert item.question == f"{q['situation']} {q['question']}"
        assert item.answer == raw_a[q["question_id"]]["answers"][0]["answer"]
        assert item.options == [] and item.category == question_type(q["question"])
        scene = q["scene_id"]
        assert item.media[0].paths == [f"{scene}/{scene}_vh_clean_2.ply", f"{scene}.ply"]
    assert Counter(i.category for i in items) == {
        "What": 24,
        "Is": 17,
        "How": 15,
        "Which": 15,
        "Can": 5,
        "Others": 27,
    }


def test_sqa3d_without_its_answer_file_names_the_missing_file(tmp_path):
    (tmp_path / SQA3D_QUESTIONS.name).write_text(SQA3D_QUESTIONS.read_text())
    with pytest.raises(BenchmarkError, match="v1_balanced_sqa_annotations_test_scannetv2.json"):
        get_benchmark("sqa3d").load(tmp_path / SQA3D_QUESTIONS.name)


def test_videommmu_adapter_reads_records_and_tracks(tmp_path):
    folder = tmp_path / "Comprehension"
    folder.mkdir()
    records = [
        {
            "id": "validation_Art_1",
            "question": "Which period?",
            "question_type": "multiple-choice",
            "options": ["A. Baroque", "B. Gothic", "C. Modern"],
            "answer": "B",
        },
        {
            "id": "validation_Art_2",
            "question": "Name the painter.",
            "question_type": "open",
            "options": [],
            "answer": "Claude Monet",
            "track": "Adaptation",
        },
    ]
    path = folder / "test.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    bench = get_benchmark("videommmu")
    mc, open_q = bench.load(path)
    assert mc.category == "Comprehension" and open_q.category == "Adaptation"  # path, then field
    assert mc.options == ["Baroque", "Gothic", "Modern"]  # the "A. " prefixes are not options
    assert mc.media[0].paths == ["validation_Art_1.mp4"] and mc.subcategory == "multiple-choice"
    row_mc = {"options": mc.options, "answer": mc.answer}
    assert bench.score(row_mc, "Gothic", 1) and not bench.score(row_mc, "Baroque", 0)
    assert not bench.score(row_mc, "no idea", None)
    row_open = {"options": [], "answer": open_q.answer}
    assert bench.score(row_open, "claude monet.", None) and not bench.score(row_open, "Manet", None)


def test_m3d_adapter_reads_the_published_csv(tmp_path):
    path = tmp_path / "M3D_VQA_test.csv"
    path.write_text(
        "Image Path,Text,Question Type,Question,Choice A,Choice B,Choice C,Choice D,Answer,"
        "Answer Choice\n"
        "ct/001.npy,report,1,In which plane is this scan?,Axial,Sagittal,Coronal,Oblique,"
        "Axial,A\n"
        "ct/002.npy,report,4,What abnormality is seen?,None,Cyst,Tumour,Fracture,Cyst,B\n"
    )
    bench = get_benchmark("m3d")
    items = bench.load(path)
    assert [i.category for i in items] == ["Plane", "Abnormality"]
    assert [i.id for i in items] == ["m3d-0", "m3d-1"]
    assert items[1].media[0].type == "volume" and items[1].media[0].paths == ["ct/002.npy"]
    row = {"options": items[1].options, "answer": items[1].answer}
    assert bench.score(row, "Cyst", 1) and not bench.score(row, "Tumour", 2)


def test_generic_adapter_and_bad_records(tmp_path):
    good = tmp_path / "items.jsonl"
    good.write_text(
        json.dumps(
            {
                "id": "q1",
                "question": "What colour?",
                "options": ["red", "green"],
                "answer": "green",
                "category": "colour",
                "media": [{"type": "image", "path": "disc.png"}],
            }
        )
        + "\n"
    )
    (item,) = get_benchmark("generic").load(good)
    assert item.category == "colour" and item.media[0].paths == ["disc.png"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(
            {"id": "q1", "question": "?", "answer": "x", "media": [{"type": "smell", "path": "a"}]}
        )
        + "\n"
    )
    with pytest.raises(BenchmarkError) as err:
        get_benchmark("generic").load(bad)
    assert err.value.field == "media.0" and "'smell'" in err.value.message
    dup = tmp_path / "dup.jsonl"
    dup.write_text(
        "\n".join(json.dumps({"id": "same", "question": "?", "answer": "x"}) for _ in range(2))
    )
    with pytest.raises(BenchmarkError, match="duplicate item id 'same'"):
        get_benchmark("generic").load(dup)
    no_choices = tmp_path / "mmau.json"
    no_choices.write_text(
        json.dumps([{"id": "a", "audio_id": "a.wav", "question": "?", "answer": "x"}])
    )
    with pytest.raises(BenchmarkError, match="MMAU item 0: missing field 'choices'"):
        get_benchmark("mmau").load(no_choices)
    with pytest.raises(BenchmarkError, match="unknown benchmark 'nope'"):
        get_benchmark("nope")
    with pytest.raises(BenchmarkError, match="no such file"):
        get_benchmark("mmau").load(tmp_path / "absent.json")


def test_a_hyphenated_benchmark_name_registers_and_is_found_however_typed(tmp_path, monkeypatch):
    """Names are compared one way at registration and at lookup (case, hyphens and underscores
    aside), so a new `my-quiz` is found as typed, the error never lists a name it then cannot
    find, and a clash is refused when the adapter is registered."""
    from mexa_ray import datasets
    from mexa_ray.datasets.generic import Generic

    monkeypatch.setattr(datasets, "BENCHMARKS", dict(datasets.BENCHMARKS))

    class MyQuiz(Generic):
        name = "my-quiz"
        label = "My quiz"

    datasets.register(MyQuiz)
    quiz = tmp_path / "quiz.jsonl"
    quiz.write_text(
        json.dumps({"id": "q1", "question": "2 + 2?", "options": ["3", "4"], "answer": "4"})
    )
    for typed in ("my-quiz", "My_Quiz", "myquiz"):
        bench = datasets.get_benchmark(typed)
        assert isinstance(bench, MyQuiz)
        [item] = bench.load(quiz)
        assert item.id == "q1" and bench.score({"answer": "4", "options": ["3", "4"]}, "4", 1)
    assert "my-quiz" in datasets.benchmark_names()
    with pytest.raises(BenchmarkError) as err:
        datasets.get_benchmark("my-quizz")
    assert "known: " in err.value.message and "my-quiz" in err.value.message

    class Clash(Generic):
        name = "MY_QUIZ"

    with pytest.raises(ValueError, match="clashes with 'my-quiz'"):
        datasets.register(Clash)


def test_scoring_rules():
    assert normalise("The Two chairs.") == normalise("2 chairs") == "2 chairs"
    assert exact_match("Left", "left") and not exact_match("", "") and not exact_match("a", "b")
    assert gold_index("(C)", ["x", "y", "z"]) == 2 and gold_index("y", ["x", "y"]) == 1
    assert gold_index("D", ["x", "y"]) is None  # no fourth option: not a letter answer
    assert option_match("B", ["x", "y"], "whatever", 1)
    assert not option_match("B", ["x", "y"], "y", None)  # naming no option is wrong
    mmau = get_benchmark("mmau")
    row = {"options": ["Man", "Woman"], "answer": "Woman"}
    assert mmau.score(row, "", 1) and not mmau.score(row, "", 0)
    assert mmau.score(row, "woman", None)  # no option chosen: the answer string is compared


def test_report_cache_keys_on_what_the_report_depends_on(tmp_path):
    config = load_config()
    skills = config.skill_catalogue()
    audio = build_expert(config.expert("audio-signal"), skills)  # reads only the media
    table = build_expert(config.expert("table-profiler"), skills)  # reads the question too
    q1 = Query("Is it music?", ["yes", "no"], media=[Media("audio", path="/x.wav")])
    q2 = Query("How loud is it?", media=[Media("audio", path="/x.wav")])
    assert cache_key(audio, q1, "B2", ["h1"]) == cache_key(audio, q2, "B2", ["h1"])
    assert cache_key(audio, q1, "B2", ["h1"]) != cache_key(audio, q1, "B3", ["h1"])
    assert cache_key(audio, q1, "B2", ["h1"]) != cache_key(audio, q1, "B2", ["h2"])
    assert cache_key(table, q1, "F2", ["h1"]) != cache_key(table, q2, "F2", ["h1"])
    cache = ReportCache(tmp_path)
    key = cache_key(audio, q1, "B2", ["h1"])
    assert cache.get(key) is None
    report = ExpertReport("audio-signal", "B2", "a steady tone", 0.01, 1.0, 1.01)
    cache.put(key, report)
    assert cache.get(key) == report


def _rows(n: int, run: str) -> list[dict]:
    rows = []
    for i in range(n):
        row = empty_row(
            {
                "id": f"{run}-{i}",
                "benchmark": "generic",
                "category": "c",
                "subcategory": "",
                "question": "?",
                "options": [],
                "answer": "x",
                "media": "[]",
            }
        )
        row.update(prediction="x", correct=i % 2 == 0, skills=["A1"], run_id=run)
        rows.append(row)
    return rows


def test_a_cut_short_parquet_file_is_set_aside_and_its_items_rerun(tmp_path):
    folder = predictions_dir(tmp_path)
    folder.mkdir()
    pq.write_table(to_table(_rows(3, "a"), OUTPUT_SCHEMA), folder / "a.parquet")
    pq.write_table(to_table(_rows(3, "b"), OUTPUT_SCHEMA), folder / "b.parquet")
    whole = (folder / "b.parquet").read_bytes()
    (folder / "b.parquet").write_bytes(whole[: len(whole) // 2])  # killed while writing
    assert completed_ids(tmp_path) == {"a-0", "a-1", "a-2"}
    assert (folder / "b.parquet.incomplete").exists() and not (folder / "b.parquet").exists()
    assert read_predictions(tmp_path).num_rows == 3
    # a late file from a killed run repeating ids: each id is read once, the earliest run's row
    late = _rows(2, "a")
    for row in late:
        row["run_id"] = "z-late"
    pq.write_table(to_table(late, OUTPUT_SCHEMA), folder / "c.parquet")
    table = read_predictions(tmp_path)
    assert sorted(table["id"].to_pylist()) == ["a-0", "a-1", "a-2"]
    assert set(table["run_id"].to_pylist()) == {"a"}


def test_report_numbers_and_markdown():
    rows = _rows(4, "a")
    rows[1]["category"] = "d"
    rows[3]["status"], rows[3]["correct"] = "missing_media", None
    summary = summarise(pa.Table.from_pylist(rows))
    assert summary["items"] == 4 and summary["scored"] == 3 and summary["correct"] == 2
    assert summary["by_category"] == {
        "c": {"items": 2, "correct": 2, "accuracy": 1.0},
        "d": {"items": 1, "correct": 0, "accuracy": 0.0},
    }
    assert summary["status"] == {"missing_media": 1, "ok": 3}
    assert summary["skills"]["A1"]["selected"] == 3
    text = render_markdown(summary)
    assert "**Accuracy: 66.7%** (2 of 3 answered items; 4 items in all)" in text
    assert "| c | 2 | 2 | 100.0% |" in text and "| d | 1 | 0 | 0.0% |" in text
