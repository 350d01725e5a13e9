"""The skill catalogue.

The first seventeen entries are MEXA's own skill ids and names (arXiv 2506.17113, Table 1), kept
verbatim so that routing statistics stay comparable with the paper. Entries after them are ours,
added where an expert needs a skill the paper does not name. The config may add more.
"""

from __future__ import annotations

from mexa_ray.types import Skill

MEXA_SKILLS: tuple[Skill, ...] = (
    Skill(
        "A1",
        "Video Description",
        "General Visual Perception",
        ("video",),
        "Describes what happens in a video over time: scenes, motion, changes, cuts.",
    ),
    Skill(
        "A2",
        "Detailed Image Description",
        "General Visual Perception",
        ("image", "video"),
        "Describes an image in detail: the objects, people and shapes in it, their colours and "
        "positions, the layout and brightness.",
    ),
    Skill(
        "A3",
        "Short Image Description",
        "General Visual Perception",
        ("image", "video"),
        "Gives a short caption of an image: what it shows, its main colours and overall look.",
    ),
    Skill(
        "B1",
        "Video Subtitle Extraction",
        "Audio",
        ("audio", "video"),
        "Transcribes the speech in an audio track into subtitles with timestamps: what the "
        "speaker says, word for word.",
    ),
    Skill(
        "B2",
        "Audio Description",
        "Audio",
        ("audio",),
        "Describes sounds: loudness over time, silence, noise, speech or tones, events.",
    ),
    Skill(
        "B3",
        "Music Description",
        "Audio",
        ("audio",),
        "Describes music: pitch and notes, tempo and rhythm, tonal character.",
    ),
    Skill(
        "C1",
        "3D Scene Description",
        "3D",
        ("points",),
        "Describes a 3D scene: its size, floor and walls, objects, their sizes and positions.",
    ),
    Skill(
        "C2",
        "3D Situated Context Description",
        "3D",
        ("points",),
        "Describes a 3D scene relative to a situated agent: what is near, left, right, above.",
    ),
    Skill(
        "D1",
        "CT Scan Interpretation",
        "Medical",
        ("volume",),
        "Interprets a 3D CT volume: anatomy, planes, densities, abnormal regions.",
    ),
    Skill(
        "D2",
        "Medical Image Description",
        "Medical",
        ("image",),
        "Describes a 2D medical image such as an X-ray, MRI slice or pathology image.",
    ),
    Skill(
        "E1",
        "General OCR",
        "OCR",
        ("image", "video"),
        "Reads the text visible in an image or video frame: written words, numbers, "
        "captions, labels, signs and prices.",
    ),
    Skill(
        "E2",
        "Poster/Slides Caption",
        "OCR",
        ("image", "video"),
        "Captions a poster or presentation slide: title, bullet points, figures.",
    ),
    Skill(
        "E3",
        "PDF Text Extraction",
        "OCR",
        ("image", "text"),
        "Extracts the text of a document page.",
    ),
    Skill(
        "F1",
        "Chart/Plot Description",
        "Structured",
        ("image",),
        "Describes a chart or plot: axes, series, trends, extreme values.",
    ),
    Skill(
        "F2",
        "Table Description",
        "Structured",
        ("table", "image"),
        "Describes a table: columns, row count, statistics, notable values, relevant rows.",
    ),
    Skill(
        "G1",
        "Equation Caption",
        "Math",
        ("image",),
        "Transcribes and explains a mathematical equation shown in an image.",
    ),
    Skill(
        "G2",
        "Mathematics & Geometry Caption",
        "Math",
        ("image",),
        "Describes a mathematical or geometric figure: shapes, lengths, angles, labels.",
    ),
)

#: Skills beyond the paper's catalogue, for inputs the paper's experts do not read directly.
EXTRA_SKILLS: tuple[Skill, ...] = (
    Skill(
        "T1",
        "Text Passage Reading",
        "Text",
        ("text",),
        "Reads a text passage, document or subtitle file given with the question and quotes "
        "what it says.",
    ),
)

DEFAULT_SKILLS: tuple[Skill, ...] = MEXA_SKILLS + EXTRA_SKILLS
