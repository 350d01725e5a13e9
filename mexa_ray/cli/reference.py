"""The configuration reference (`mexa config-schema`), generated from the pydantic models in
mexa_ray/config/schema.py: every field with its dotted path, type, default, constraints and
description.

docs/config-reference.md is this module's output; a test keeps the two equal.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mexa_ray.config import AppConfig

HEADER = """\
# Configuration reference

Every field of the app config, generated from the pydantic models in `mexa_ray/config/schema.py` by
`mexa config-schema` (do not edit by hand: `mexa config-schema > docs/config-reference.md`
rewrites it, and a test fails when it is out of date). How configs are written, extended and
overridden: [configuration.md](configuration.md). `mexa config-schema --format json` prints the
same as a JSON Schema.

A class used in several places is described once; its rows start with `<ClassName>`, which
stands for each path listed under its heading. `[]` is any entry of a list.
"""


def _walk(root: type[BaseModel]) -> dict[type[BaseModel], list[str]]:
    """Every model class reachable from `root`, in breadth-first order, with every dotted path
    where it appears (the config models nest without cycles, so the paths are finite)."""
    found: dict[type[BaseModel], list[str]] = {}
    queue: list[tuple[type[BaseModel], str]] = [(root, "")]
    while queue:
        cls, path = queue.pop(0)
        found.setdefault(cls, []).append(path)
        for name, info in cls.model_fields.items():
            queue += [(sub, _join(path, name) + suffix) for sub, suffix in _nested(info.annotation)]
    return found


def _nested(annotation: Any, suffix: str = "") -> list[tuple[type[BaseModel], str]]:
    """The model classes inside an annotation, with `[]` for those inside a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, suffix)]
    origin = typing.get_origin(annotation)
    inner = "[]" if origin in (list, tuple, set) else ""
    return [found for arg in typing.get_args(annotation) for found in _nested(arg, suffix + inner)]


def _prefix(cls: type[BaseModel], paths: list[str]) -> str:
    """How rows of `cls` begin: its one path, or `<ClassName>` when it appears in several."""
    return paths[0] if len(paths) == 1 else f"<{cls.__name__}>"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _type(annotation: Any) -> str:
    if annotation is type(None):
        return "null"
    if annotation is Any:
        return "any"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    if annotation is Path:
        return "path"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return "str"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(dict.fromkeys(_type(a) for a in args))
    if origin is list:
        return f"list of {_type(args[0])}"
    if origin is tuple:
        return "[" + ", ".join(_type(a) for a in args) + "]"
    if origin is dict:
        return "mapping" if args[1] is Any else f"mapping of {_type(args[0])} to {_type(args[1])}"
    return getattr(annotation, "__name__", str(annotation))


def _choices(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    return [c for arg in typing.get_args(annotation) for c in _choices(arg)]


def _value(value: Any) -> str:
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, tuple):
        value = list(value)
    text = f"`{json.dumps(value, ensure_ascii=False)}`"
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= 2**20
        and value % 2**20 == 0
    ):
        text += f" ({value // 2**20} MiB)"
    return text


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel):
            return "its defaults"
        return _value(value)
    if info.default is PydanticUndefined:
        return "required"
    return _value(info.default)


def _constraints(info: FieldInfo) -> str:
    out = []
    choices = _choices(info.annotation)
    if choices:
        out.append("one of " + ", ".join(f"`{c}`" for c in choices))
    for m in info.metadata:
        if isinstance(m, Ge):
            out.append(f">= {m.ge}")
        elif isinstance(m, Gt):
            out.append(f"> {m.gt}")
        elif isinstance(m, Le):
            out.append(f"<= {m.le}")
        elif isinstance(m, Lt):
            out.append(f"< {m.lt}")
        elif isinstance(m, MinLen):
            out.append(f"at least {m.min_length} item{'s' if m.min_length != 1 else ''}")
        elif isinstance(m, MaxLen):
            out.append(f"at most {m.max_length} items")
        elif getattr(m, "pattern", None):
            out.append(f"matches `{m.pattern}`")
    return "; ".join(out)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def fields(root: type[BaseModel] = AppConfig) -> list[dict[str, str]]:
    """One row per field of every model reachable from `root`: class, path, type, default,
    constraints, description."""
    rows = []
    for cls, paths in _walk(root).items():
        for name, info in cls.model_fields.items():
            rows.append(
                {
                    "class": cls.__name__,
                    "path": _join(_prefix(cls, paths), name),
                    "type": _type(info.annotation),
                    "default": _default(info),
                    "constraints": _constraints(info),
                    "description": info.description or "",
                }
            )
    return rows


def markdown(root: type[BaseModel] = AppConfig) -> str:
    """The reference as Markdown: one section per model class, one table row per field."""
    parts = [HEADER]
    rows = fields(root)
    for cls, paths in _walk(root).items():
        parts.append(f"## {cls.__name__}\n")
        where = ", ".join(f"`{p}`" for p in paths if p)
        parts.append(f"At {where}.\n" if where else "The top level of a config file.\n")
        doc = inspect.getdoc(cls) if cls.__doc__ else ""
        for paragraph in doc.split("\n\n") if doc else []:
            parts.append(" ".join(paragraph.split()) + "\n")
        parts.append(
            "| path | type | default | constraints | description |\n| --- | --- | --- | --- | --- |"
        )
        for row in rows:
            if row["class"] == cls.__name__:
                cells = [f"`{row['path']}`"] + [
                    _cell(row[k]) for k in ("type", "default", "constraints", "description")
                ]
                parts.append("| " + " | ".join(cells) + " |")
        parts.append("")
    return "\n".join(parts)


def json_schema(root: type[BaseModel] = AppConfig) -> str:
    return json.dumps(root.model_json_schema(), indent=2, ensure_ascii=False) + "\n"
