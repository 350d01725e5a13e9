"""Where a config error is in the user's own file.

A config that `extends` another is validated merged, so pydantic names the merged mapping's
field: `experts.5.settings.top_kk`, where 5 counts the parent's experts too. A person needs the
file they wrote, the line, and the expert by name. `Layer` keeps each file of an `extends` chain
with the line of every key in it; `locate` maps a merged field back to the file (the nearest to
the user's that sets it) and its line, and names experts by name: `experts.word-stats.settings.
top_kk`, as errors raised when an expert is built name it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


@dataclass
class Layer:
    """One file of an `extends` chain: its name, its own mapping, and each key's line."""

    source: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)


def key_lines(text: str) -> dict[Path_, int]:
    """The 1-based line of every key (and list item) in a YAML document, by its path."""
    out: dict[Path_, int] = {}

    def walk(node: yaml.Node, path: Path_) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = (*path, str(key.value))
                out[here] = key.start_mark.line + 1
                walk(value, here)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                at = (*path, i)
                out[at] = item.start_mark.line + 1
                walk(item, at)

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return out  # the loader reports the syntax error itself
    if root is not None:
        walk(root, ())
    return out


def _parts(loc: str) -> Path_:
    return tuple(int(p) if p.isdigit() else p for p in loc.split("."))


def _expert_index(data: Any, name: Any) -> int | None:
    experts = data.get("experts") if isinstance(data, dict) else None
    if not isinstance(experts, list):
        return None
    for i, entry in enumerate(experts):
        if isinstance(entry, dict) and entry.get("name") == name:
            return i
    return None


def locate(loc: str, merged: Any, layers: list[Layer]) -> tuple[str, str, int | None]:
    """(shown field, source, line) of a merged config's field `loc`; `layers` go from the
    user's file to the last base. The source is the first layer that writes the field (or
    its nearest parent key); the line is that key's."""
    parts = _parts(loc)
    shown = loc
    candidates: list[tuple[Layer, Path_]] = []
    if len(parts) >= 2 and parts[0] == "experts" and isinstance(parts[1], int):
        entries = merged.get("experts") if isinstance(merged, dict) else None
        name = None
        if isinstance(entries, list) and parts[1] < len(entries):
            entry = entries[parts[1]]
            name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str):
            shown = ".".join(["experts", name, *map(str, parts[2:])])
            for layer in layers:  # an entry replaces a base's of that name whole
                index = _expert_index(layer.data, name)
                if index is not None:
                    candidates = [(layer, ("experts", index, *parts[2:]))]
                    break
        else:  # an entry without a name: it is the user's file's, by position among the new
            candidates = [(layers[0], parts)]
    else:
        candidates = [(layer, parts) for layer in layers]
    best: tuple[int, str, int | None] = (0, layers[0].source, None)
    for layer, path in candidates:
        for depth in range(len(path), 0, -1):
            line = layer.lines.get(path[:depth])
            if line is not None:
                if depth > best[0]:
                    best = (depth, layer.source, line)
                break
        if best[0] == len(path):  # the nearest file that writes the field itself
            break
    return shown, best[1], best[2]
