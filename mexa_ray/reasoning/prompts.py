"""Every prompt text mexa-ray sends to a model, in one place, so a prompt change is one diff.

Where a template follows MEXA (arXiv 2506.17113, Sec. 3 and App. "Prompts"), the comment says
so; the paper's own wording is kept where it is given, and the rest is marked as ours.
"""

from __future__ import annotations

import re

from mexa_ray.types import ExpertReport, MissingExpert, Query, Skill

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def lettered(options: list[str]) -> str:
    return "\n".join(f"({LETTERS[i]}) {opt}" for i, opt in enumerate(options))


# --- Router ------------------------------------------------------------------------------------

# MEXA's skill selection (Sec. 3.1): the model sees the task, the question, the options and the
# skill catalogue grouped by area, and answers with the ids of the skills the question needs.
# After the catalogue come the cards of the experts that would apply those skills (each expert
# once, with its skill ids, description and what it cannot do), so the choice is made knowing
# who will look and what they miss.
ROUTER_SYSTEM = (
    "You are the planner of a multimodal reasoning system. Expert models can describe the "
    "inputs; you decide which of their skills are needed to answer the question."
)

ROUTER_INSTRUCTION = (
    "Select the skills whose descriptions are needed to answer the question. Answer only with "
    "the skill ids, separated by commas (for example: {example}). Do not explain."
)


def router_card(
    name: str, skill_ids: list[str], description: str, limitations: str | None = None
) -> str:
    """One expert's card as the LLM router reads it."""
    text = f"{name} ({', '.join(skill_ids)}): {description.strip()}"
    return f"{text} Limitations: {limitations.strip()}" if limitations else text


def router_catalogue(skills: list[Skill], cards: list[str] | None = None) -> str:
    """The skills grouped by area, then the experts' cards (`router_card`)."""
    areas: dict[str, list[Skill]] = {}
    for s in skills:
        areas.setdefault(s.area, []).append(s)
    text = "\n".join(
        f"{area}:\n" + "\n".join(f"  {s.id}: {s.name}. {s.description}" for s in group)
        for area, group in areas.items()
    )
    if cards:
        text += "\n\nExperts that apply them:\n" + "\n".join(f"  {c}" for c in cards)
    return text


def router_messages(
    query: Query,
    skills: list[Skill],
    present: list[str],
    images: list | None = None,
    cards: list[str] | None = None,
) -> list[dict]:
    """The skill-selection conversation; `cards`: the cards of the experts that offer those
    skills; `images` (a few frames) when the router is a VLM."""
    example = ", ".join(s.id for s in skills[:2]) or "A1"
    parts = [
        f"Task type: {query.task or 'question answering'}",
        f"Input modalities: {', '.join(present) or 'none'}",
        f"Question: {query.question}",
    ]
    if query.options:
        parts.append("Options:\n" + lettered(query.options))
    parts += [
        "Skills:\n" + router_catalogue(skills, cards),
        ROUTER_INSTRUCTION.format(example=example),
    ]
    text = "\n\n".join(parts)
    content: list[dict] | str = text
    if images:
        content = [{"type": "image", "image": im} for im in images]
        content.append({"type": "text", "text": text})
    return [{"role": "system", "content": ROUTER_SYSTEM}, {"role": "user", "content": content}]


def router_schema(skill_ids: list[str], max_skills: int) -> dict:
    """The JSON a constrained router may write: 1 to `max_skills` of the offered skill ids."""
    return {
        "type": "object",
        "required": ["skills"],
        "properties": {
            "skills": {
                "type": "array",
                "items": {"type": "string", "enum": list(skill_ids)},
                "minItems": 1,
                "maxItems": max_skills,
            }
        },
    }


def answer_schema(options: list[str]) -> dict:
    """The JSON a constrained aggregator may write for a multiple-choice question: one option,
    as "(letter) text", so that a small model picks with the option's meaning in view."""
    return {
        "type": "object",
        "required": ["answer"],
        "properties": {
            "answer": {
                "type": "string",
                "enum": [f"({LETTERS[i]}) {opt}" for i, opt in enumerate(options)],
            }
        },
    }


_ID = re.compile(r"(?<![A-Za-z0-9])([A-Za-z])[-_.]?(\d{1,2})(?![0-9A-Za-z])")


def parse_skill_ids(text: str, known: list[str]) -> tuple[list[str], list[str]]:
    """(known ids in the order named, unknown id-like tokens) from a router's output.

    Tolerates spaces, newlines, lowercase, brackets, "A-1", and prose around the ids; a reasoning
    router's <think> part must be removed before (see llm.split_reasoning).
    """
    known_upper = {k.upper(): k for k in known}
    found: list[str] = []
    unknown: list[str] = []
    for letter, number in _ID.findall(text):
        sid = f"{letter.upper()}{int(number)}"
        if sid in known_upper:
            if known_upper[sid] not in found:
                found.append(known_upper[sid])
        elif sid not in unknown:
            unknown.append(sid)
    return found, unknown


# --- Aggregator --------------------------------------------------------------------------------

# How each skill's report enters the LRM prompt. MEXA (Sec. 3.2) gives the reasoning model the
# experts' captions as labelled text blocks (video captions with clip times, keyframe captions
# with timestamps, subtitles, audio/music captions, 3D/CT captions, OCR/chart/table/equation
# captions); the labels below are ours, one per skill id.
REPORT_TEMPLATES: dict[str, str] = {
    "A1": "Video captions (with clip times) from {expert}:\n{text}",
    "A2": "Detailed image/keyframe captions (with timestamps) from {expert}:\n{text}",
    "A3": "Short image/keyframe captions from {expert}:\n{text}",
    "B1": "Subtitles (speech transcript with timestamps) from {expert}:\n{text}",
    "B2": "Audio caption from {expert}:\n{text}",
    "B3": "Music caption from {expert}:\n{text}",
    "C1": "3D scene caption from {expert}:\n{text}",
    "C2": "3D situated caption (relative to the agent's situation) from {expert}:\n{text}",
    "D1": "CT scan caption from {expert}:\n{text}",
    "D2": "Medical image caption from {expert}:\n{text}",
    "E1": "Text read by OCR from {expert}:\n{text}",
    "E2": "Poster/slide caption from {expert}:\n{text}",
    "E3": "Document text from {expert}:\n{text}",
    "F1": "Chart/plot caption from {expert}:\n{text}",
    "F2": "Table caption from {expert}:\n{text}",
    "G1": "Equation caption from {expert}:\n{text}",
    "G2": "Math/geometry figure caption from {expert}:\n{text}",
    "T1": "Text passage given with the question, from {expert}:\n{text}",
}
#: skills a config adds without a template of their own
REPORT_DEFAULT = "Report ({skill}) from {expert}:\n{text}"

# MEXA's aggregation (Sec. 3.2): the LRM reads the question and the expert captions and answers;
# for multiple choice with the option letter only. The system text is ours.
AGGREGATOR_SYSTEM = (
    "You answer questions about inputs you cannot see yourself. Expert models have examined the "
    "inputs and written the reports below. Reason over the reports, weigh them when they "
    "disagree, and answer the question."
)

FINAL_MULTIPLE_CHOICE = "Answer with the option's letter from the given choices directly. Answer: "
FINAL_OPEN = "Answer the question directly and briefly. Answer: "


def report_block(report: ExpertReport) -> str:
    template = REPORT_TEMPLATES.get(report.skill, REPORT_DEFAULT)
    return template.format(expert=report.expert, skill=report.skill, text=report.text.strip())


def aggregator_messages(
    query: Query, reports: list[ExpertReport], missing: list[MissingExpert]
) -> list[dict]:
    blocks = [report_block(r) for r in reports] or ["(no expert report is available)"]
    parts = []
    if query.task:
        parts.append(f"Task: {query.task}")
    parts.append("Expert reports:\n\n" + "\n\n".join(blocks))
    if missing:
        parts.append(
            "Experts that did not report: " + "; ".join(f"{m.expert} ({m.reason})" for m in missing)
        )
    parts.append(f"Question: {query.question}")
    if query.options:
        parts.append("Options:\n" + lettered(query.options))
        parts.append(FINAL_MULTIPLE_CHOICE)
    else:
        parts.append(FINAL_OPEN)
    return [
        {"role": "system", "content": AGGREGATOR_SYSTEM},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def extract_option(text: str, options: list[str]) -> int | None:
    """The option a model's answer names: "(B)", "B.", "Answer: B", "b", or the option's text.

    Letters win when unambiguous; otherwise the longest option text found in the answer. None
    when nothing matches, so the caller can say the answer could not be mapped.
    """
    if not options:
        return None
    n = len(options)
    valid = LETTERS[:n]
    body = text.strip()
    explicit = rf"(?:answer|option|choice)\s*(?:is|:)?\s*:?\s*\(?\*?\*?([{valid}])\b"  # "Answer: B"
    hits = {m.upper() for m in re.findall(explicit, body, re.IGNORECASE)}
    if len(hits) == 1:
        return LETTERS.index(hits.pop())
    if len({m for m in re.findall(rf"\(([{valid}])\)", body)}) > 1:
        return None  # "(A) or (B)": the model did not decide
    patterns = [
        rf"^\(?([{valid}])\)?\s*$",  # "B", "(B)"
        rf"^\(?([{valid}])\)?[.:)\]]",  # "B.", "B:", "B)"
        rf"\(([{valid}])\)",  # "... (B) ..."
        rf"^\*\*\(?([{valid}])\)?\*\*",  # "**B**"
    ]
    for pattern in patterns:
        hits = {m.upper() for m in re.findall(pattern, body)}
        if len(hits) == 1:
            return LETTERS.index(hits.pop())
    lowered = body.lower()
    if re.fullmatch(rf"\(?([{valid.lower()}])\)?\.?", lowered):
        return LETTERS.index(lowered.strip("().").upper())
    norm_body = _norm(body)
    matches = [
        i
        for i, opt in enumerate(options)
        if _norm(opt) and re.search(rf"(?<![a-z0-9]){re.escape(_norm(opt))}(?![a-z0-9])", norm_body)
    ]
    if matches:
        return max(matches, key=lambda i: len(_norm(options[i])))
    return None


# --- Experts -----------------------------------------------------------------------------------

# What a model-backed expert is asked for each skill (ours; MEXA's experts were prompted per
# skill in the same spirit). `{question}` lets the expert focus on what is asked.
EXPERT_INSTRUCTIONS: dict[str, str] = {
    "A1": "Describe what happens in this video frame: the scene, people, objects and actions.",
    "A2": "Describe this image in detail: the scene, objects, people, colours, text and layout.",
    "A3": "Describe this image in one sentence.",
    "B1": "Transcribe the speech.",
    "B2": "Describe the sounds in this audio: sound events, their order and sources.",
    "B3": "Describe this music: instruments, genre, mood, tempo and key.",
    "C1": "This is a rendered view of a 3D scan. Describe the room and the objects in it.",
    "C2": (
        "This is a rendered view of a 3D scan. Given the situation in the question, describe "
        "what is near the agent, and what is left, right, in front and behind."
    ),
    "D1": (
        "This is a slice of a CT scan. Describe the anatomy visible, the plane, and any "
        "abnormality."
    ),
    "D2": "Describe this medical image: modality, anatomy, and any abnormal findings.",
    "E1": "Transcribe all text visible in this image, exactly as written.",
    "E2": "Caption this poster or slide: its title, bullet points and figures.",
    "E3": "Extract the text of this document page.",
    "F1": "Describe this chart or plot: its type, axes, series, trends and extreme values.",
    "F2": "Describe this table: its columns, rows and notable values.",
    "G1": "Transcribe the equation in this image in LaTeX and explain it briefly.",
    "G2": "Describe this mathematical or geometric figure: shapes, labels, lengths and angles.",
}
EXPERT_DEFAULT_INSTRUCTION = "Describe this input."
EXPERT_QUESTION_HINT = "The description will be used to answer this question: {question}"


def expert_instruction(skill: str, question: str, overrides: dict[str, str] | None = None) -> str:
    base = (overrides or {}).get(skill) or EXPERT_INSTRUCTIONS.get(
        skill, EXPERT_DEFAULT_INSTRUCTION
    )
    return f"{base}\n{EXPERT_QUESTION_HINT.format(question=question)}"
