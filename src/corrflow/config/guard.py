"""Config safety before anything walks the config.

YAML anchors and aliases (&a / *a) share one node, and a file of nine lists of nine
aliases each expands to 387 million values in any code that copies or validates it;
PyYAML also keeps the last of a key given twice in one mapping without a word.
"""

from collections.abc import Iterable

import yaml

from corrflow.config.errors import ConfigError

MAX_ALIAS_GROWTH = 10_000


# libyaml's parser when PyYAML has it (5,000 series: 0.2 s instead of 2.8 s), else PyYAML's own
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ConfigFileLoader(SAFE_LOADER):
    """PyYAML's safe loader that notes each key given twice in one mapping."""

    def __init__(self, stream):
        super().__init__(stream)
        self.duplicates: list[tuple[object, int, int]] = []  # (key, first line, repeated line)

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults` then a key of its own: an override, not a duplicate
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) and key in seen:
                self.duplicates.append((key, seen[key], line))
            seen.setdefault(key, line)
        return super().construct_mapping(node, deep=deep)


def duplicate_keys(text: str) -> list[tuple[object, int, int]]:
    """(key, first line, repeated line) of each key given twice in one mapping of ``text``."""
    loader = ConfigFileLoader(text)
    try:
        loader.get_single_data()
    finally:
        loader.dispose()
    return loader.duplicates


def check_config_files(paths: Iterable[str]) -> None:
    """Each config file Snakemake read, parsed again: a key given twice is an error."""
    for path in paths:
        try:
            with open(path, encoding="utf-8") as stream:
                duplicates = duplicate_keys(stream.read())
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # Snakemake read it (as JSON, say); nothing more to learn here
        if duplicates:
            key, first, again = duplicates[0]
            raise ConfigError(
                f"config file {path}, line {again}: key `{key}` given twice in one mapping (first on "
                f"line {first}); YAML would keep the last silently: keep one"
            )


def check_alias_growth(config_value, limit: int = MAX_ALIAS_GROWTH) -> None:
    """Refuse a config that anchors and aliases expand by more than ``limit`` values,
    or that an alias makes contain itself; counted without expanding anything."""
    sizes, written = {}, 0

    class SelfContaining(Exception):
        pass

    def size(node):
        nonlocal written
        if not isinstance(node, (dict, list)):
            return 1
        if id(node) in sizes:
            if sizes[id(node)] is None:
                raise SelfContaining
            return sizes[id(node)]
        sizes[id(node)] = None
        children = list(node.values()) if isinstance(node, dict) else node
        written += 1 + sum(not isinstance(child, (dict, list)) for child in children)
        sizes[id(node)] = 1 + sum(size(child) for child in children)
        return sizes[id(node)]

    try:
        expanded = size(config_value)
    except SelfContaining:
        raise ConfigError(
            "config: a YAML alias (*name) refers to the mapping or list that holds it; write the values out"
        ) from None
    except RecursionError:
        raise ConfigError("config: nested too deeply to be a configuration; flatten it") from None
    if expanded - written > limit:
        raise ConfigError(
            f"config: YAML anchors and aliases (&name / *name) expand it to {expanded:,} values, "
            f"{expanded - written:,} more than written (at most {limit:,}); write the values out "
            "instead of aliasing them"
        )
