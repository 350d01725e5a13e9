"""Loading a config: a YAML file or a packaged config by name, its `extends` chain merged, the
overrides applied, validated; an error names the user's own file, line and field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mexa_ray.config.lines import Layer, key_lines, locate
from mexa_ray.config.overrides import Overrides
from mexa_ray.config.schema import DEFAULT_CONFIG, AppConfig
from mexa_ray.errors import ConfigError, validated


def parse_config(data: Any, source: str = "<config>") -> AppConfig:
    """Validate a config mapping; errors name the dotted field and the reason."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a mapping, got {type(data).__name__}")
    return validated(
        AppConfig,
        data,
        lambda loc, msg: ConfigError(f"{source}: {loc or 'config'}: {msg}", field=loc or None),
    )


def packaged_configs() -> list[str]:
    """Names of the configs shipped in mexa_ray/configs (usable as `--config NAME`)."""
    return sorted(
        f.name.removesuffix(".yaml")
        for f in resources.files("mexa_ray.configs").iterdir()
        if f.name.endswith(".yaml")
    )


def _read(path: str | Path | None, seen: tuple[str, ...] = ()) -> tuple[dict, list[Layer]]:
    """The raw mapping of a config file or packaged config, its `extends` chain merged in, and
    the chain's files (this one first) with the line of each of their keys."""
    name = DEFAULT_CONFIG if path is None else f"{str(path).removesuffix('.yaml')}.yaml"
    p = Path(path) if path is not None else None
    if p is None or (not p.is_file() and name.removesuffix(".yaml") in packaged_configs()):
        text = resources.files("mexa_ray.configs").joinpath(name).read_text()
        source = f"mexa_ray/configs/{name}"
    else:
        if not p.is_file():
            raise ConfigError(
                f"config file not found: {p} (packaged configs: {', '.join(packaged_configs())})",
                field="config",
            )
        text, source = p.read_text(), str(p)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    layer = Layer(source, data, key_lines(text))
    if not isinstance(data, dict) or "extends" not in data:
        return data, [layer]
    data = dict(data)
    base_name = data.pop("extends")
    if not isinstance(base_name, str) or not base_name:
        raise ConfigError(
            f"{source}: extends: name a packaged config or a YAML file", field="extends"
        )
    if source in seen:
        raise ConfigError(
            f"{source}: extends: the chain {' -> '.join(seen)} loops", field="extends"
        )
    if p is not None and not Path(base_name).is_absolute() and (p.parent / base_name).is_file():
        base_name = str(p.parent / base_name)
    base, chain = _read(base_name, seen + (source,))
    return merge_configs(base, data), [layer, *chain]


def merge_configs(base: dict, override: dict) -> dict:
    """`override` on top of `base`: mappings merge key by key, `experts` merge by name (an entry
    replaces the base's entry of that name, new names are appended), other values replace."""
    merged = dict(base)
    for key, value in override.items():
        if key == "experts" and isinstance(value, list) and isinstance(base.get(key), list):
            by_name = {e.get("name"): e for e in base[key] if isinstance(e, dict)}
            extra = []
            for entry in value:
                if isinstance(entry, dict) and entry.get("name") in by_name:
                    by_name[entry["name"]] = entry
                else:
                    extra.append(entry)
            merged[key] = list(by_name.values()) + extra
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = merge_configs(base[key], value)
        else:
            merged[key] = value
    return merged


def load_config(path: str | Path | None = None, overrides: Overrides | None = None) -> AppConfig:
    """Load a YAML config file, or a packaged config by name ("gpu-1x80gb"), or the packaged
    default (offline models) when path is None. A config may start from another with
    `extends: NAME` (a packaged config, or a file relative to this one) and change parts."""
    data, layers = _read(path)
    if overrides is not None and isinstance(data, dict):
        data = overrides.apply(data)
    try:
        return parse_config(data, layers[0].source)
    except ConfigError as exc:
        if exc.field is None:
            raise
        # name the user's own file and line, and an expert by its name
        shown, source, line = locate(exc.field, data, layers)
        reason = exc.message.split(f"{exc.field}: ", 1)[-1]
        at = f"{source}, line {line}" if line else source
        raise ConfigError(f"{at}: {reason}", field=shown) from None
