"""The config schema (the one home of every key, its type and its default): loading it,
reading `--config` strings as the types it asks for, validating with one-line errors,
and filling in the defaults once."""

import copy
import difflib
import reprlib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from corrflow.config.errors import ConfigError

if TYPE_CHECKING:  # imported where a config is validated: a command given only defaults needs none
    import jsonschema

# libyaml's parser where PyYAML has it: the same SafeLoader constructors, ~10x faster
# (the schema is read at every Snakemake parse and by every command)
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# the package's copy is the one home; workflow/schemas/config.schema.yaml links to it
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "config.schema.yaml"


@lru_cache(maxsize=None)
def _schema_text(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def load_schema(path: str | Path | None = None) -> dict:
    """The schema as a dict (a fresh copy: validation must not share state between calls)."""
    return yaml.load(_schema_text(str(path or SCHEMA_PATH)), Loader=SAFE_LOADER)


def coerce_cli_value(value, schema: dict):
    """`--config offline=true` or `correlation="{'windows': [60, 20]}"` arrive as strings
    inside: read them as the booleans and numbers the schema asks for (anything else is
    left to the validation, which names the key)."""
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {k: coerce_cli_value(v, props.get(k, {})) for k, v in value.items()}
    if isinstance(value, list):
        return [coerce_cli_value(v, schema.get("items", {})) for v in value]
    if "integer" in kinds and "number" not in kinds and isinstance(value, float) and value.is_integer():
        return int(value)  # `horizon: 1e8` from a Python literal: the number, checked as one
    if not isinstance(value, str):
        return value
    if "boolean" in kinds and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if "null" in kinds and value.lower() in ("none", "null"):
        return None
    if "integer" in kinds and value.lstrip("-").isdigit():
        return int(value)
    if "number" in kinds:
        try:
            return float(value)
        except ValueError:
            return value
    return value


def schema_key_paths(schema: dict, prefix: str = ""):
    """(path, name) of every key the schema allows, nested ones included."""
    for name, sub in schema.get("properties", {}).items():
        yield f"{prefix}{name}", name
        items = sub.get("items")
        inner, suffix = (items, "[].") if isinstance(items, dict) else (sub, ".")
        yield from schema_key_paths(inner, f"{prefix}{name}{suffix}")


def config_error_message(error: "jsonschema.ValidationError", config: dict) -> str:
    """One line for a schema violation: the key path, what was given and what is allowed
    (Snakemake's own message prints the whole schema and config, ~900 lines)."""
    path, item, node = "", "", config
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
        node = node[part]
        if isinstance(part, int) and isinstance(node, dict) and ("id" in node or "name" in node):
            item = f" ({node.get('id', node.get('name'))})"
    if list(error.absolute_path)[-1:] in (["id"], ["name"]):
        item = ""  # the value itself is the label
    path = path.lstrip(".")
    key, schema, got = f"config key `{path}`{item}", error.schema, reprlib.repr(error.instance)
    where = f"{path}." if path else ""
    if error.validator == "required":
        missing = [name for name in schema["required"] if name not in error.instance][0]
        return f"config key `{where}{missing}`{item}: required, but missing"
    if error.validator == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))[0]
        # a key one level off (`pairs` for `correlation.pairs`), else a typo of an allowed one
        moved = [key_path for key_path, name in schema_key_paths(schema) if name == unknown]
        guess = moved or difflib.get_close_matches(unknown, allowed, n=1)
        hint = f" (did you mean `{where}{guess[0]}`?)" if guess else ""
        return f"config key `{where}{unknown}`{item}: unknown key{hint}; allowed: {', '.join(allowed)}"
    if error.validator == "enum":
        return f"{key}: got {got}; allowed: {', '.join(map(str, schema['enum']))}"
    if error.validator == "type":
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return f"{key}: got {got} ({type(error.instance).__name__}); expected {' or '.join(kinds)}"
    if error.validator == "pattern":
        return f"{key}: {got} does not match {schema['pattern']}"
    return f"{key}: {error.message.replace(repr(error.instance), got)}"


def _validator_filling_defaults():
    """Draft 2020-12 that sets each missing property's default as it validates it (the
    jsonschema FAQ's recipe, as snakemake.utils.validate(set_default=True) does)."""
    import jsonschema

    validate_properties = jsonschema.Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        for name, subschema in properties.items():
            if "default" in subschema:
                instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(jsonschema.Draft202012Validator, {"properties": set_defaults})


def validate(config: dict, schema: dict | None = None) -> dict:
    """``config`` validated against the schema, with every default filled in (in place,
    and returned); the first violation is a ConfigError of one line naming the key."""
    schema = schema if schema is not None else load_schema()
    validator = _validator_filling_defaults()(schema)
    for error in validator.iter_errors(config):
        raise ConfigError(config_error_message(error, config))
    return config


def schema_defaults(schema: dict | None = None) -> dict:
    """Every default of the schema, nested like config.yaml (what a config of only the
    required keys resolves to, minus those keys)."""
    schema = schema if schema is not None else load_schema()

    def defaults(node: dict) -> dict:
        out = copy.deepcopy(node["default"]) if isinstance(node.get("default"), dict) else {}
        for key, child in node.get("properties", {}).items():
            if "properties" in child:
                out[key] = {**defaults(child), **out.get(key, {})}
            elif "default" in child:
                out.setdefault(key, copy.deepcopy(child["default"]))
        return out

    return defaults(schema)
