"""The docs cannot drift from the code: the generated config reference, the links, and the
commands and flags the README and docs/ show."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mexa_ray.cli import build_parser, main
from mexa_ray.cli import reference as config_reference
from mexa_ray.config import AppConfig, Overrides

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
REFERENCE = ROOT / "docs" / "config-reference.md"
REGENERATE = "mexa config-schema > docs/config-reference.md"

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def test_config_reference_is_what_the_command_prints(capsys):
    assert main(["config-schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == config_reference.markdown()
    assert REFERENCE.read_text(encoding="utf-8") == printed, (
        f"docs/config-reference.md is out of date: run `{REGENERATE}`"
    )


def test_every_config_field_has_a_description():
    rows = config_reference.fields(AppConfig) + config_reference.fields(Overrides)
    undescribed = [f"{r['class']}: {r['path']}" for r in rows if not r["description"].strip()]
    assert not undescribed, f"fields without Field(description=...): {undescribed}"
    paths = {r["path"] for r in rows}
    # every model the config nests has its section, and the shared ones say where they sit
    assert {
        "router.kind",
        "ingress.max_body_bytes",
        "experts[].settings",
        "skills[].id",
        "<DeploymentSettings>.max_queued_requests",
        "<ModelSpec>.backend",
        "<BulkSpec>.actors",
        "experts[].batching.max_batch_size",
    } <= paths
    reference = config_reference.markdown()
    for cls in ("AppConfig", "RouterSpec", "ExpertSpec", "ModelSpec", "DeploymentSettings"):
        assert f"\n## {cls}\n" in reference


def test_config_schema_json_is_the_models_json_schema(capsys):
    assert main(["config-schema", "--format", "json"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == AppConfig.model_json_schema()
    assert "experts" in schema["required"]


def _prose(text: str) -> str:
    """The text without its code blocks and inline code, where links are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces become hyphens."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve_to_files_in_the_repository(doc):
    broken = []
    for target in LINK.findall(_prose(doc.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        where = (doc.parent / path_part).resolve() if path_part else doc
        if ROOT not in where.parents and where != ROOT:
            broken.append(f"{target} (outside the repository)")
        elif not where.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and where.suffix == ".md" and anchor not in _anchors(where):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{doc.relative_to(ROOT)}: {broken}"


def test_readme_is_short_and_starts_with_the_install_and_test_commands():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    block = re.search(r"^```[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    first_block = block.group(1).splitlines()
    # .ci/run runs the second line of the first code block
    assert first_block[0].startswith("bash .ci/install && .venv/bin/mexa ")
    assert first_block[1] == (
        ".venv/bin/python -m pytest -q && .venv/bin/python -m pytest -q -m cluster"
    )
    assert "docs/playground.png" in text


def _code(text: str) -> list[str]:
    """Every code line: fenced blocks line by line (a trailing backslash joins the next) and
    inline code spans."""
    lines = []
    for match in FENCE.finditer(text):
        body = match.group(0).split("\n")[1:-1]
        lines += "\n".join(body).replace("\\\n", " ").splitlines()
    lines += [span.strip("`") for span in INLINE_CODE.findall(FENCE.sub("", text))]
    return lines


def _subcommands() -> dict[str, set[str]]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return {
        name: {s for a in p._actions for s in a.option_strings} for name, p in sub.choices.items()
    }


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_mexa_commands_and_flags_shown_exist(doc):
    commands = _subcommands()
    wrong = []
    for line in _code(doc.read_text(encoding="utf-8")):
        for m in re.finditer(r"(?:^|[\s/'\"(])mexa ([a-z][a-z-]*)((?:[^|;&`]*))", line):
            command, rest = m.group(1), m.group(2)
            if command not in commands:
                wrong.append(f"mexa {command}")
                continue
            for flag in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", rest):
                if flag not in commands[command]:
                    wrong.append(f"mexa {command} {flag}")
    assert not wrong, f"{doc.relative_to(ROOT)}: {wrong}"


# --- the adding-* pages' examples are real files the checks run over ---------------------------

EXAMPLES = ROOT / "docs" / "examples"


def example_code(name: str) -> str:
    """An example file as its page shows it: without its module docstring and future import."""
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    rest = text[text.index('"""', 3) + 3 :].lstrip("\n")
    return rest.replace("from __future__ import annotations\n\n", "", 1).rstrip("\n")


@pytest.mark.parametrize(
    "page, example",
    [("adding-an-expert.md", "word_count.py"), ("adding-a-benchmark.md", "chartqa.py")],
)
def test_each_adding_page_shows_its_example_file_as_it_is(page, example):
    blocks = re.findall(r"```python\n(.*?)\n```", (ROOT / "docs" / page).read_text(), re.DOTALL)
    assert example_code(example) in blocks, f"docs/{page} no longer shows docs/examples/{example}"


def test_the_example_backend_builds_from_its_config_and_reports(tmp_path, monkeypatch):
    from mexa_ray.config import load_config
    from mexa_ray.experts import build_expert
    from mexa_ray.types import Media, Query

    monkeypatch.syspath_prepend(str(EXAMPLES))  # as the page says: the folder on the path
    config = load_config(EXAMPLES / "word_count.yaml")
    spec = config.expert("word-stats")
    expert = build_expert(spec, config.skill_catalogue())
    note = tmp_path / "note.txt"
    note.write_text("the cat and the dog and the bird")
    query = Query("Which word is most frequent?", media=[Media("text", path=str(note))])
    report = expert.run(query, "T1")
    assert "8 words; most frequent: the, and, cat" in report.text  # settings: {top: 3}


def test_the_example_benchmark_registers_loads_and_scores(tmp_path, monkeypatch):
    import sys

    from mexa_ray import datasets

    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setattr(datasets, "BENCHMARKS", dict(datasets.BENCHMARKS))
    sys.modules.pop("chartqa", None)
    from chartqa import ChartQA

    datasets.register(ChartQA)
    records = tmp_path / "chartqa.json"
    records.write_text(
        json.dumps(
            [
                {
                    "id": "c1",
                    "question": "Which bar is tallest?",
                    "choices": ["A", "B"],
                    "answer": "B",
                    "image": "c1.png",
                    "type": "bar",
                }
            ]
        )
    )
    bench = datasets.get_benchmark("ChartQA")
    [item] = bench.load(records)
    assert item.category == "bar" and item.media[0].paths == ["c1.png", "images/c1.png"]
    assert bench.score({"answer": "B", "options": ["A", "B"]}, "B", 1)
    assert not bench.score({"answer": "B", "options": ["A", "B"]}, "A", 0)


def test_the_docs_name_every_registered_backend_and_benchmark():
    """The lists a newcomer reads grow with each extension: one more backend or benchmark
    without its line in the docs fails here, not months later in a reader's confusion."""
    from mexa_ray.datasets import BENCHMARKS
    from mexa_ray.experts import BACKENDS

    configuration = (ROOT / "docs" / "configuration.md").read_text()
    backends = configuration[configuration.index("- **Expert backends**") :]
    backends = backends[: backends.index("\n- **")]
    assert [b for b in BACKENDS if f"`{b}`" not in backends] == []
    listed = (ROOT / "docs" / "bulk-evaluation.md").read_text()
    table = (ROOT / "docs" / "adding-a-benchmark.md").read_text()
    for cls in BENCHMARKS.values():
        assert f"`{cls.name}`" in listed, f"docs/bulk-evaluation.md does not name {cls.name}"
        assert f"| `{cls.name}` |" in table, f"docs/adding-a-benchmark.md has no {cls.name} row"
