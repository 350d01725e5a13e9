"""Writes mexa_ray/reasoning/data/wordnet_nouns.tsv.gz: WordNet 3.0's nouns for physical things
(the `physical_entity` subtree: organisms, artifacts, food, natural objects, places), each synset
with its lemmas and its hypernyms, so the evidence ranking can tell what kind of thing an option
names ("bison" is a bovid, "sea lion" is a pinniped and not a lion) without a download.

    apt-get download wordnet-base && dpkg-deb -x wordnet-base_*.deb /tmp/wordnet
    python benchmarks/make_lexicon.py /tmp/wordnet/usr/share/wordnet

One line per synset, `lemma|lemma<TAB>hypernym row,hypernym row`, rows numbered from 0 in file
order (a synset's row is its id), after comment lines that carry WordNet's licence. Also writes
the irregular plurals (noun.exc) the synsets' lemmas need, as `#exc form lemma` lines. WordNet 3.0
is Princeton's (the WordNet licence: use, copy and distribute freely with its copyright notice).
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "mexa_ray/reasoning/data/wordnet_nouns.tsv.gz"
LICENCE = """WordNet Release 3.0 This software and database is being provided to you, the LICENSEE,
by Princeton University under the following license. By obtaining, using and/or copying this
software and database, you agree that you have read, understood, and will comply with these
terms and conditions.: Permission to use, copy, modify and distribute this software and database
and its documentation for any purpose and without fee or royalty is hereby granted, provided that
you agree to comply with the following copyright notice and statements, including the disclaimer,
and that the same appear on ALL copies of the software, database and documentation, including
modifications that you make for internal use or for distribution. WordNet 3.0 Copyright 2006 by
Princeton University. All rights reserved. THIS SOFTWARE AND DATABASE IS PROVIDED "AS IS" AND
PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES, EXPRESS OR IMPLIED. BY WAY OF
EXAMPLE, BUT NOT LIMITATION, PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES OF
MERCHANT- ABILITY OR FITNESS FOR ANY PARTICULAR PURPOSE OR THAT THE USE OF THE LICENSED
SOFTWARE, DATABASE OR DOCUMENTATION WILL NOT INFRINGE ANY THIRD PARTY PATENTS, COPYRIGHTS,
TRADEMARKS OR OTHER RIGHTS. The name of Princeton University or Princeton may not be used in
advertising or publicity pertaining to distribution of the software and/or database. Title to
copyright in this software, database and any associated documentation shall at all times remain
with Princeton University and LICENSEE agrees to preserve same."""


def synsets(data_noun: Path) -> dict[int, tuple[list[str], list[int]]]:
    """offset -> (lemmas, hypernym offsets, instance hypernyms included) for every noun synset."""
    out: dict[int, tuple[list[str], list[int]]] = {}
    for line in data_noun.read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):  # the licence header
            continue
        fields = line.split(" | ")[0].split()
        offset, count = int(fields[0]), int(fields[3], 16)
        # a lemma's adjective marker ("(a)", "(p)") is not part of its name
        lemmas = [fields[4 + 2 * i].split("(")[0].lower() for i in range(count)]
        pos = 4 + 2 * count
        pointers = int(fields[pos])
        hypernyms = [
            int(fields[pos + 1 + 4 * k + 1])
            for k in range(pointers)
            if fields[pos + 1 + 4 * k] in ("@", "@i")
        ]
        out[offset] = (list(dict.fromkeys(lemmas)), hypernyms)
    return out


def physical(table: dict[int, tuple[list[str], list[int]]]) -> list[int]:
    """The offsets under `physical_entity`, in offset order."""
    root = next(o for o, (lemmas, _) in table.items() if lemmas == ["physical_entity"])
    children: dict[int, list[int]] = {}
    for o, (_, hypernyms) in table.items():
        for h in hypernyms:
            children.setdefault(h, []).append(o)
    keep, stack = set(), [root]
    while stack:
        o = stack.pop()
        if o not in keep:
            keep.add(o)
            stack += children.get(o, [])
    return sorted(keep)


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet")
    table = synsets(root / "data.noun")
    kept = physical(table)
    row = {o: i for i, o in enumerate(kept)}
    lemmas = {lemma for o in kept for lemma in table[o][0]}
    lines = ["# " + line for line in LICENCE.splitlines()]
    lines.append("# benchmarks/make_lexicon.py: WordNet 3.0 nouns under physical_entity")
    for line in (root / "noun.exc").read_text(encoding="latin-1").splitlines():
        form, *bases = line.split()
        if any(b in lemmas for b in bases):
            lines.append(f"#exc {form} {' '.join(b for b in bases if b in lemmas)}")
    for o in kept:
        names, hypernyms = table[o]
        up = ",".join(str(row[h]) for h in hypernyms if h in row)
        lines.append(f"{'|'.join(names)}\t{up}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), 9, mtime=0))
    print(f"wrote {OUT}: {len(kept)} synsets, {OUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
