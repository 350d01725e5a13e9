"""What kind of thing a name names: WordNet 3.0's nouns for physical things, read once per process.

An option and a recognised class meet when they name the same thing or one is a kind of the other
("bird" and "lark", "bison" and "bovine"), never because their names share a word: a sea lion is
a pinniped, not a lion, and a bell tower is not a bell. The data (`data/wordnet_nouns.tsv.gz`,
written by benchmarks/make_lexicon.py from Debian's wordnet-base) holds each synset's lemmas and
hypernyms; plurals are found as WordNet's own lookup finds them (its irregular forms, then its
suffix rules).
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

#: WordNet's noun suffix rules (morphy): an ending and what replaces it
_SUFFIXES = (("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
             ("men", "man"), ("ies", "y"), ("s", ""))  # fmt: skip
#: kinds so broad that sharing them says nothing about two things ("organism", "artifact")
TOO_BROAD_DEPTH = 4


@dataclass(frozen=True)
class Relation:
    """How an option's name relates to a recognised thing's name."""

    #: "same" (synonyms), "kind" (the thing is a kind of the option: option "bird", thing
    #: "lark"), "narrower" (the option is a kind of the thing: "rooster", "bird"), "close"
    #: (near kin: "bison" and "ox", both bovines), or "unrelated"
    kind: str
    #: how far it supports the option, in [0, 1]
    weight: float
    #: the kind they share, for the reasoning ("bovine")
    via: str = ""


UNRELATED = Relation("unrelated", 0.0)


class Lexicon:
    """Synsets by lemma, their hypernyms and depths."""

    def __init__(self, lines: list[str]) -> None:
        self.names: list[list[str]] = []
        self.up: list[tuple[int, ...]] = []
        self.by_lemma: dict[str, list[int]] = {}
        self.irregular: dict[str, list[str]] = {}
        for line in lines:
            if line.startswith("#exc "):
                form, *bases = line[5:].split()
                self.irregular[form] = bases
                continue
            if line.startswith("#") or not line.strip():
                continue
            lemmas, _, up = line.rstrip("\n").partition("\t")
            row = len(self.names)
            names = lemmas.split("|")
            self.names.append([n.replace("_", " ") for n in names])
            self.up.append(tuple(int(x) for x in up.split(",")) if up else ())
            for name in names:
                self.by_lemma.setdefault(name, []).append(row)

    def lemma(self, name: str) -> str | None:
        """The lemma a name is a form of ("sea lions" -> "sea lion"), or None if unknown."""
        key = re.sub(r"[\s-]+", "_", name.strip().lower())
        if not key:
            return None
        if key in self.by_lemma:
            return key.replace("_", " ")
        for base in self.irregular.get(key, []):
            if base in self.by_lemma:
                return base.replace("_", " ")
        for ending, replacement in _SUFFIXES:
            if key.endswith(ending) and len(key) > len(ending) + 1:
                base = key[: -len(ending)] + replacement
                if base in self.by_lemma:
                    return base.replace("_", " ")
        return None

    def synsets(self, name: str) -> list[int]:
        """The synsets a name (a word or a compound: "sea lion", "bell tower") may mean."""
        found = self.lemma(name)
        return self.by_lemma[found.replace(" ", "_")] if found else []

    def knows(self, name: str) -> bool:
        return bool(self.synsets(name))

    def is_a(self, name: str, kind: str) -> bool:
        """Whether some sense of `name` is `kind` or a kind of it, however broad ("sea lion" is
        an animal; "triangle", an instrument, is no physical sense of "shape")."""
        kinds = set(self.synsets(kind))
        return any(kinds.intersection(self.ancestors(s)) for s in self.synsets(name))

    @lru_cache(maxsize=65536)  # noqa: B019 - one lexicon per process, never freed
    def ancestors(self, synset: int) -> dict[int, int]:
        """Every hypernym of a synset (itself included) with its distance in steps."""
        out, frontier, step = {synset: 0}, [synset], 0
        while frontier:
            step += 1
            nxt = []
            for s in frontier:
                for h in self.up[s]:
                    if h not in out:
                        out[h] = step
                        nxt.append(h)
            frontier = nxt
        return out

    def depth(self, synset: int) -> int:
        """Steps up to the root (physical_entity) by the longest path."""
        return max(self.ancestors(synset).values())

    def relation(self, option: str, thing: str) -> Relation | None:
        """How `option` relates to `thing`; None when either name is not in the lexicon (then
        only their words can be compared)."""
        a, b = self.synsets(option), self.synsets(thing)
        if not a or not b:
            return None
        best = UNRELATED
        for sa in a:
            for sb in b:
                found = self._relation(sa, sb)
                if found.weight > best.weight:
                    best = found
        return best

    def _relation(self, option: int, thing: int) -> Relation:
        if option == thing:
            return Relation("same", 1.0, self.names[option][0])
        above_thing = self.ancestors(thing)
        if option in above_thing and self.depth(option) >= TOO_BROAD_DEPTH:
            # the thing is a kind of the option ("lark" is a bird): the option holds
            return Relation("kind", 1.0, self.names[option][0])
        above_option = self.ancestors(option)
        if thing in above_option and self.depth(thing) >= TOO_BROAD_DEPTH:
            # the option is a kind of the thing ("rooster", recognised as "bird"): consistent,
            # more specific than what was recognised
            return Relation("narrower", 0.6, self.names[thing][0])
        shared = [s for s in above_thing if s in above_option]
        if not shared:
            return UNRELATED
        # the nearest kind they share, and how far it is from each: near kin (one or two steps
        # from each) count, a shared "placental mammal" four steps up does not
        nearest = min(shared, key=lambda s: above_thing[s] + above_option[s])
        steps = max(above_thing[nearest], above_option[nearest])
        if steps <= 2 and self.depth(nearest) >= TOO_BROAD_DEPTH + 2:
            return Relation("close", 0.5 if steps == 1 else 0.2, self.names[nearest][0])
        return UNRELATED


@cache
def lexicon() -> Lexicon:
    data = resources.files("mexa_ray.reasoning").joinpath("data/wordnet_nouns.tsv.gz")
    with data.open("rb") as f:
        return Lexicon(gzip.decompress(f.read()).decode().splitlines())


@lru_cache(maxsize=65536)
def compounds(text: str, longest: int = 3) -> tuple[str, ...]:
    """The lexicon's compound names in a text, as lemmas, longest first at each place ("two sea
    lions bark" -> ("sea lion",)): a compound is one thing, whatever its words name alone."""
    words = re.findall(r"[a-z]+", text.lower())
    lex = lexicon()
    out, i = [], 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 1, -1):
            found = lex.lemma(" ".join(words[i : i + n]))
            if found is not None:
                out.append(found)
                i += n
                break
        else:
            i += 1
    return tuple(out)
