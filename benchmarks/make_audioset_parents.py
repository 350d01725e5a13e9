"""Writes mexa_ray/experts/data/audioset_parents.json, the AudioSet ontology in the compact form
the sound-event expert reads: every class's display name and the names of its ancestors.

    python benchmarks/make_audioset_parents.py path/to/ontology.json

Not a measurement: the generator of a data file the package ships, kept beside the benchmarks
because the project has no other scripts folder. The input is `ontology.json` of the AudioSet
ontology (github.com/audioset/ontology, v1 2017-03-06, by Google, under CC BY-SA 4.0), and so the
output is under CC BY-SA 4.0 too, with the attribution its "source" field carries.

Each class (by its AudioSet id, e.g. "/m/0bt9lr") maps to [display name, [ancestor names]], the
ancestors nearest first (breadth-first over every parent, as a class such as "Vehicle horn, car
horn, honking" sits under both "Car" and "Alarm"), each once. One name is added to: "Cattle,
bovinae" becomes "Cattle, bovinae, cow", the everyday word its own child "Moo" describes ("made
by a cow or bull"), which no AudioSet name carries.
"""

from __future__ import annotations

import argparse
import json
from collections import deque
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "mexa_ray/experts/data/audioset_parents.json"
SOURCE = (
    "AudioSet ontology v1 (github.com/audioset/ontology, ontology.json), Google, CC BY-SA 4.0; "
    "derived: display names and ancestor names only, 'cow' added to 'Cattle, bovinae'"
)
#: everyday words added to a class name that lacks them (see the module docstring)
ADDED_NAMES = {"/m/01xq0k1": "cow"}


def ancestors(mid: str, parents: dict[str, list[str]]) -> list[str]:
    """The ids above `mid`, nearest first, each once."""
    seen: dict[str, None] = {}
    queue = deque(parents.get(mid, []))
    while queue:
        p = queue.popleft()
        if p in seen:
            continue
        seen[p] = None
        queue.extend(parents.get(p, []))
    return list(seen)


def derive(ontology: list[dict]) -> dict:
    names = {e["id"]: e["name"] for e in ontology}
    for mid, extra in ADDED_NAMES.items():
        names[mid] = f"{names[mid]}, {extra}"
    parents: dict[str, list[str]] = {}
    for e in ontology:
        for child in e["child_ids"]:
            parents.setdefault(child, []).append(e["id"])
    classes = {
        e["id"]: [names[e["id"]], [names[a] for a in ancestors(e["id"], parents)]] for e in ontology
    }
    return {"source": SOURCE, "licence": "CC BY-SA 4.0", "classes": classes}


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("ontology", type=Path, help="AudioSet's ontology.json")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    data = derive(json.loads(args.ontology.read_text()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # one class a line: small, and a diff shows what changed
    lines = [
        f"  {json.dumps(mid)}: {json.dumps(entry, ensure_ascii=False)}"
        for mid, entry in data["classes"].items()
    ]
    args.out.write_text(
        "{\n"
        f'"source": {json.dumps(data["source"])},\n'
        f'"licence": {json.dumps(data["licence"])},\n'
        '"classes": {\n' + ",\n".join(lines) + "\n}\n}\n"
    )
    print(f"{len(lines)} classes -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
