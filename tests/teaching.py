"""Teaching a tiny twin one reply, and proving it was taught.

A taught twin is what lets a test drive the real generation path (chat template, processor,
batched `generate`, reasoning split) to a known output. A test may assert that output only where
the twin provably writes it, so teaching does not stop after a fixed number of steps: it fits
until every taught prompt's reply clears a margin, then proves the twin on prompts it was not
taught on, drawn from the same families (the shapes of prompt the tests send it), through the
engine the tests use (`TransformersGenerator`, batched, greedy). A held-out prompt the twin gets
wrong joins the taught ones and teaching goes on; a twin that still does not fit within the
step budget raises `TwinNotTaught`, naming the model, the prompts and their losses, instead of
letting a test fail later on a garbled reply.

Why a margin: with the reply's summed loss (its negative log-likelihood given the prompt) under
0.05, every reply token has probability over 0.95, so greedy decoding writes the reply, and so
does sampling at any temperature up to 1 with top-p up to 0.95 (the twins that ship R1's or
Qwen2.5's sampling defaults). A loss measured on the held-out prompts too makes that hold there.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mexa_ray.config import ModelSpec
from mexa_ray.models.transformers_engine import TransformersGenerator
from mexa_ray.reasoning.prompts import aggregator_messages, expert_instruction, router_messages
from mexa_ray.reasoning.skills import DEFAULT_SKILLS
from mexa_ray.types import ExpertReport, Media, Query

Conversation = list[dict]
#: a family of prompts: seed -> conversations (one seed teaches, another proves)
Family = Callable[[int], list[Conversation]]

#: every reply's summed loss must stay under this (each token's probability over 0.95)
MARGIN = 0.05


class TwinNotTaught(AssertionError):
    """A tiny twin did not learn its reply within the step budget: its tests could not trust
    what it writes."""


@dataclass
class Example:
    label: str
    conversation: Conversation


@dataclass
class Taught:
    """What teaching did: its steps (one new prompt each), the held-out prompts it was proven
    on, and the worst summed reply loss among them."""

    steps: int
    proven: int
    worst_heldout_loss: float


@contextlib.contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Fixed seeds and torch's deterministic kernels for the duration (restored after)."""
    was = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was)


def _words(seed: int) -> tuple[random.Random, list[str]]:
    from tiny_models import corpus

    return random.Random(seed), " ".join(corpus()).split()


def varied_prompts(seed: int = 0) -> list[Conversation]:
    """Conversations of many lengths (up to a few thousand tokens) made of prompt-like words."""
    from mexa_ray.reasoning.prompts import AGGREGATOR_SYSTEM, ROUTER_SYSTEM

    rng, words = _words(seed)
    return [
        [
            {"role": "system", "content": rng.choice([ROUTER_SYSTEM, AGGREGATOR_SYSTEM])},
            {"role": "user", "content": " ".join(rng.choice(words) for _ in range(n))},
        ]
        for n in (5, 20, 40, 80, 120, 200, 300, 450, 600, 900)
    ]


#: report shapes the tests' experts write (a VLM's caption, a transcript with times, an audio
#: caption, a table's profile), filled with other words per prompt
REPORT_SHAPES = [
    ("vision", "A2", "{w} {w} {w}"),
    ("speech", "B1", "Subtitles:\n[0.00s -> {n}.00s] {w} {w} {w} {w}"),
    ("speech", "B1", "No speech was recognised."),
    # a random-weight ASR twin decodes random tokens of its vocabulary: word pieces run together
    ("speech", "B1", "Subtitles:\n[0.00s -> {n}.00s]{t}\n[{n}.00s -> {n}.00s]{t}"),
    ("audio", "B2", "a {w} {w} {w}"),
    (
        "table",
        "F2",
        "Table with {n} rows and {n} columns.\nColumn '{w}' (number): min {n}, max {n}",
    ),
    ("points", "C1", "Point cloud with {n} points.\nLongest side of the scene: along {w}."),
]
QUESTIONS = [
    "What colour is the {w}, and what is heard?",
    "What do these inputs show?",
    "Which option fits the reports about the {w}?",
    "How many {w} are there?",
]
OPTION_POOL = ["red", "green", "blue", "yes", "no", "music", "speech", "noise", "one", "two"]


def aggregator_prompts(seed: int = 0) -> list[Conversation]:
    """The aggregator's own prompts (`aggregator_messages`) over reports of the experts' shapes,
    one to four of them, with and without options and missing experts: a reasoning model
    taught only on `varied_prompts` garbled its reply on a real aggregator prompt."""
    rng, words = _words(seed)

    def pieces() -> str:
        """Word pieces run together, some after a space: what random token ids decode to."""
        out = ""
        for _ in range(rng.randint(3, 14)):
            word = rng.choice(words)
            start = rng.randrange(len(word))
            piece = word[start : start + rng.randint(1, 4)]
            out += (" " if rng.random() < 0.35 else "") + piece
        return out

    def fill(shape: str) -> str:
        out = shape
        while "{w}" in out or "{n}" in out or "{t}" in out:
            out = out.replace("{w}", rng.choice(words), 1).replace(
                "{n}", str(rng.randint(1, 99)), 1
            )
            out = out.replace("{t}", pieces(), 1)
        return out

    convs = []
    for n_reports in (1, 2, 3, 4, 2, 3):
        reports = [
            ExpertReport(expert, skill, fill(shape), 0.1)
            for expert, skill, shape in rng.sample(REPORT_SHAPES, n_reports)
        ]
        options = rng.sample(OPTION_POOL, rng.choice([0, 2, 3, 4]))
        convs.append(aggregator_messages(Query(fill(rng.choice(QUESTIONS)), options), reports, []))
    return convs


def router_prompts(seed: int = 0, images: bool = False) -> list[Conversation]:
    """The LLM router's prompts (`router_messages`) over the default skills, for questions of
    prompt-like words and one to three modalities; with pictures for a vision router."""
    rng, words = _words(seed)
    modalities = ["image", "audio", "video", "points", "table", "text"]
    convs = []
    for n in (1, 2, 3, 2, 1, 3):
        present = rng.sample(modalities, n)
        question = " ".join(rng.choice(words) for _ in range(rng.randint(4, 16))) + "?"
        options = rng.sample(OPTION_POOL, rng.choice([0, 3]))
        query = Query(question, options, media=[Media(m, path=f"/x.{m}") for m in present])
        skills = [s for s in DEFAULT_SKILLS if set(s.modalities) & set(present)] or DEFAULT_SKILLS
        pictures = [picture(rng) for _ in range(rng.randint(1, 2))] if images else None
        convs.append(router_messages(query, skills, present, pictures))
    return convs


def picture(rng: random.Random):
    """A picture of a few coloured rectangles, of a size and aspect drawn from `rng`."""
    from PIL import Image, ImageDraw

    size = (rng.randint(24, 200), rng.randint(24, 160))
    img = Image.new("RGB", size, tuple(rng.randint(0, 255) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(0, 3)):
        x, y = rng.randint(0, size[0] - 1), rng.randint(0, size[1] - 1)
        box = (x, y, rng.randint(x, size[0]), rng.randint(y, size[1]))
        draw.rectangle(box, fill=tuple(rng.randint(0, 255) for _ in range(3)))
    return img


def _instruction(rng: random.Random, words: list[str], skills: list[str]) -> str:
    question = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + "?"
    return expert_instruction(rng.choice(skills), question)


def _short(rng: random.Random, words: list[str]) -> str:
    return " ".join(rng.choice(words) for _ in range(rng.randint(1, 4))) + rng.choice(".?")


def image_prompts(seed: int = 0) -> list[Conversation]:
    """A vision expert's prompts: a picture and a skill's instruction with the question, or a
    few words of its own ("Describe it.")."""
    rng, words = _words(seed)
    skills = ["A1", "A2", "A3", "C1", "D1", "D2", "E1", "F1"]

    def text(i: int) -> str:
        return _short(rng, words) if i % 3 == 2 else _instruction(rng, words, skills)

    return [
        [
            {
                "role": "user",
                "content": [
                    {"type": "image", "image": picture(rng)},
                    {"type": "text", "text": text(i)},
                ],
            }
        ]
        for i in range(6)
    ]


def audio_prompts(seed: int = 0, rate: int = 16000) -> list[Conversation]:
    """An audio expert's prompts: a tone, noise or silence of 0.3-4 s and an instruction, or a
    few words of its own ("What is heard?")."""
    rng, words = _words(seed)
    gen = np.random.default_rng(seed)
    convs = []
    for i, kind in enumerate(("tone", "noise", "silence", "tone", "noise", "tone")):
        n = int(rate * rng.uniform(0.3, 4.0))
        t = np.arange(n) / rate
        if kind == "tone":
            wave = 0.5 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t)
        elif kind == "noise":
            wave = 0.3 * gen.standard_normal(n)
        else:
            wave = np.zeros(n)
        convs.append(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "audio", "audio": wave.astype(np.float32)},
                        {
                            "type": "text",
                            "text": _short(rng, words)
                            if i % 3 == 2
                            else _instruction(rng, words, ["B2", "B3"]),
                        },
                    ],
                }
            ]
        )
    return convs


def _examples(families: dict[str, Family], seed: int) -> list[Example]:
    return [
        Example(f"{name} prompt {i} (seed {seed})", conv)
        for name, family in families.items()
        for i, conv in enumerate(family(seed))
    ]


def _stream(families: dict[str, Family], seed: int) -> Iterator[Example]:
    """Prompts never drawn before, family after family: every step teaches on a new prompt, so
    the loss measured before its update is a held-out loss."""
    k = 0
    while True:
        rng = random.Random(seed + k)
        batch = _examples(families, seed + 7919 * (k + 1))
        rng.shuffle(batch)
        yield from batch
        k += 1


class _Trainer:
    """Teacher forcing of one reply after each prompt, through the engine's own encoding."""

    def __init__(self, gen: TransformersGenerator, reply: str) -> None:
        self.gen = gen
        self.reply_ids = gen.tokenizer(reply + gen.tokenizer.eos_token, add_special_tokens=False)[
            "input_ids"
        ]

    def batch(self, example: Example) -> dict[str, torch.Tensor]:
        """The prompt as the engine encodes it (template, processor, media), the reply after
        it, and labels on the reply alone."""
        enc = dict(self.gen._encode([example.conversation]))
        prompt = enc["input_ids"]
        reply = torch.tensor([self.reply_ids], dtype=prompt.dtype)
        for key, value in enc.items():
            # per-token tensors run on over the reply: the mask with ones, token types (text,
            # image, video: Qwen2.5-VL's) with text's 0
            if key != "input_ids" and getattr(value, "shape", None) == prompt.shape:
                fill = torch.full_like(reply, int(key == "attention_mask"), dtype=value.dtype)
                enc[key] = torch.cat([value, fill], dim=1)
        enc["input_ids"] = torch.cat([prompt, reply], dim=1)
        enc["labels"] = torch.cat([torch.full_like(prompt, -100), reply], dim=1)
        return enc

    def summed_loss(self, example: Example, grad: bool = False) -> torch.Tensor:
        """The reply's negative log-likelihood given the prompt (the mean loss times its tokens)."""
        with contextlib.nullcontext() if grad else torch.no_grad():
            return self.gen.model(**self.batch(example)).loss * len(self.reply_ids)


def teach(
    folder: Path,
    kind: str,
    reply: str,
    families: dict[str, Family],
    seed: int = 0,
    max_steps: int = 3000,
    lr: float = 1e-2,
    clip: float = 1.0,
    window: int = 32,
    rounds: int = 4,
) -> Taught:
    """Teach the twin saved in `folder` to answer `reply` to any prompt of `families`, prove it
    on held-out prompts of the same families, and save the taught weights over the random ones.

    Every step teaches on a prompt never seen before, so the loss it measures before updating is
    a held-out one; a round of teaching ends once `window` prompts in a row clear the margin,
    then a set of prompts from another seed is answered through the engine; a miss there starts
    another round at half the rate, up to `rounds`. Taught on a fixed set of a dozen
    prompts, a twin fitted them and still garbled prompts it had not seen (summed losses up to
    33 on held-out ones). AdamW at `lr` with the gradient norm clipped to `clip`: unclipped,
    the rate that fits a twin in a few hundred steps made the loss jump and, on some machines'
    floating point, never settle within the budget (QwQ's twin ended at 1.45 after 300 steps)."""
    gen = TransformersGenerator(
        ModelSpec(model=str(folder), kind=kind, temperature=0, max_new_tokens=64),
        f"twin {folder.name}",
    )
    trainer = _Trainer(gen, reply)
    model = gen.model
    recent: dict[str, float] = {}
    stream = _stream(families, seed)
    steps = 0
    with deterministic(seed):
        opt = torch.optim.AdamW(model.parameters(), lr=lr)
        for round_ in range(rounds):
            model.train()
            cleared = 0
            while cleared < window:
                example = next(stream)
                loss = trainer.summed_loss(example, grad=True)
                recent[example.label] = loss.item()
                cleared = cleared + 1 if recent[example.label] < MARGIN else 0
                steps += 1
                if steps >= max_steps:
                    worst = dict(list(recent.items())[-window:])
                    raise TwinNotTaught(_failure(folder, reply, steps, worst, "unseen"))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                opt.step()
                opt.zero_grad()
            model.eval()
            heldout = _examples(families, seed + 104729 * (round_ + 1))
            losses, wrong = _prove(gen, trainer, reply, heldout)
            if not wrong:
                break
            # a held-out prompt it missed: go on, at half the rate, on new prompts
            for group in opt.param_groups:
                group["lr"] /= 2
    if wrong:
        raise TwinNotTaught(_failure(folder, reply, steps, wrong, "held-out"))
    model.save_pretrained(folder)
    return Taught(steps, len(heldout), max(losses.values()))


def _prove(
    gen: TransformersGenerator, trainer: _Trainer, reply: str, examples: list[Example]
) -> tuple[dict[str, float], dict[str, float]]:
    """(every held-out prompt's summed loss, those the twin does not answer with `reply` through
    the engine (greedy, batched as the tests batch) or whose reply misses the margin)."""
    outs = gen.generate([e.conversation for e in examples])
    losses = {e.label: float(trainer.summed_loss(e)) for e in examples}
    wrong = {
        e.label: losses[e.label]
        for e, out in zip(examples, outs)
        if out.raw.strip() != reply or not out.finished or losses[e.label] >= MARGIN
    }
    return losses, wrong


def _failure(folder: Path, reply: str, steps: int, losses: dict[str, float], what: str) -> str:
    bad = {k: v for k, v in losses.items() if v >= MARGIN} or losses
    listed = "; ".join(f"{k}: {v:.3f}" for k, v in sorted(bad.items(), key=lambda kv: -kv[1])[:6])
    return (
        f"the twin in {folder} did not learn to answer {reply!r} in {steps} steps: {len(bad)} "
        f"{what} prompts miss the margin (a summed reply loss under {MARGIN}) or the reply: "
        f"{listed}"
    )


#: the prompt families a twin is taught and proven on, by the role it plays in the tests
ROLES: dict[str, Family] = {
    "aggregator": aggregator_prompts,
    "router": router_prompts,
    "vision-router": lambda seed: router_prompts(seed, images=True),
    "image": image_prompts,
    "audio": audio_prompts,
}
