"""What a transcript says aloud, compared by sound rather than spelling.

A transcriber writes what it hears as words: the letter U comes back as "You.", C as "See.", 2 as
"to" or "two". An option is compared with a transcript by pronunciation: espeak-ng's phonemes
(`espeak-ng -q -x`, one process for all the texts of an item), which read a letter as its name and
a digit as its number word. Without espeak-ng on the machine, letters are compared by their
English names and numbers by their words, and other words by spelling.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from functools import lru_cache

from mexa_ray.experts.text_utils import NUMBER_WORDS

log = logging.getLogger(__name__)

#: the English names of the letters, as a transcriber may write them (both of Z's)
LETTER_NAMES: dict[str, tuple[str, ...]] = {
    "a": ("a", "ay", "eh"), "b": ("bee", "be"), "c": ("see", "sea", "cee"), "d": ("dee",),
    "e": ("e", "ee"), "f": ("ef", "eff"), "g": ("gee", "jee"), "h": ("aitch", "haitch"),
    "i": ("i", "eye", "aye"), "j": ("jay",), "k": ("kay", "okay"), "l": ("el", "ell"),
    "m": ("em",), "n": ("en",), "o": ("o", "oh", "owe"), "p": ("pee", "pea"),
    "q": ("queue", "cue", "q"), "r": ("are", "ar"), "s": ("es", "ess"), "t": ("tee", "tea"),
    "u": ("you", "u", "yew", "ewe"), "v": ("vee",), "w": ("double you", "double u"),
    "x": ("ex",), "y": ("why", "wye"), "z": ("zee", "zed"),
}  # fmt: skip
#: 0-20 by their words ("two", not "pair" or "twice", which NUMBER_WORDS also reads as 2)
_NUMBER_NAMES = {v: k for k, v in list(NUMBER_WORDS.items())[:21]}


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).strip()


@lru_cache(maxsize=1)
def _espeak() -> str | None:
    return shutil.which("espeak-ng")


def phonemes(texts: list[str]) -> list[str | None]:
    """Each text's phonemes without stress marks or spaces ("You." -> "ju:"); None for all when
    espeak-ng is not installed."""
    binary = _espeak()
    if binary is None:
        return [None] * len(texts)
    plain = [_plain(t) or "-" for t in texts]
    try:
        out = subprocess.run(
            [binary, "-q", "-x", "-v", "en-us"],
            input="\n".join(plain) + "\n",
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("espeak-ng failed (%s): comparing spellings instead", exc)
        return [None] * len(texts)
    out = [line for line in out if line.strip()]
    if len(out) != len(plain):  # a text read as several clauses: one process each
        out = []
        for p in plain:
            single = subprocess.run(
                [binary, "-q", "-x", "-v", "en-us", p], capture_output=True, text=True, timeout=10
            ).stdout
            out.append(" ".join(single.split()))
    return [re.sub(r"[\s'ˈˌ,%=_:-]+", "", line) or None for line in out]


def spellings(option: str) -> set[str]:
    """How a transcriber may write an option: itself, a letter's names, a number's word."""
    text = _plain(option)
    out = {text}
    if len(text) == 1 and text in LETTER_NAMES:
        out |= set(LETTER_NAMES[text])
    if text.isdigit() and int(text) in _NUMBER_NAMES:
        out.add(_NUMBER_NAMES[int(text)])
    if text in NUMBER_WORDS:
        out.add(str(NUMBER_WORDS[text]))
    return out


def sounds_like(options: list[str], transcript: str) -> list[float]:
    """How well each option is what the transcript says: 1 when the whole utterance sounds as
    the option does, 0.8 when the option is one of its words, else 0."""
    said = _plain(transcript)
    words = said.split()
    sounds = phonemes([*options, said, *words])
    opt_sounds, whole, word_sounds = (
        sounds[: len(options)],
        sounds[len(options)],
        sounds[len(options) + 1 :],
    )
    out = []
    for option, sound in zip(options, opt_sounds):
        names = spellings(option)
        spelled = 1.0 if said in names else 0.8 if names & set(words) else 0.0
        heard = 0.0
        if sound is not None and whole is not None:
            heard = 1.0 if sound == whole else 0.8 if sound in word_sounds else 0.0
        out.append(max(spelled, heard))
    return out
