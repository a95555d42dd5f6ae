# Helpers and input functions shared by the rules: config validation, the universe,
# and which outputs the run asks for.

import difflib
from functools import lru_cache
from datetime import date
import os
import reprlib
import sys

import jsonschema
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

import yaml

# Config safety, before anything walks the config: YAML anchors and aliases (&a / *a)
# share one node, and a file of nine lists of nine aliases each expands to 387 million
# values in any code that copies or validates it; PyYAML also keeps the last of a key
# given twice in one mapping without a word.
MAX_ALIAS_GROWTH = 10_000


class ConfigFileLoader(yaml.SafeLoader):
    """PyYAML's safe loader that notes each key given twice in one mapping."""

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


def check_config_files(paths):
    """Each config file Snakemake read, parsed again: a key given twice is an error."""
    for path in paths:
        try:
            with open(path, encoding="utf-8") as stream:
                loader = ConfigFileLoader(stream)
                loader.duplicates = []
                try:
                    loader.get_single_data()
                finally:
                    loader.dispose()
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # Snakemake read it (as JSON, say); nothing more to learn here
        if loader.duplicates:
            key, first, again = loader.duplicates[0]
            raise ValueError(
                f"config file {path}, line {again}: key `{key}` given twice in one mapping (first on "
                f"line {first}); YAML would keep the last silently: keep one"
            )


def check_alias_growth(config_value, limit=MAX_ALIAS_GROWTH):
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
        raise ValueError(
            "config: a YAML alias (*name) refers to the mapping or list that holds it; write the values out"
        ) from None
    except RecursionError:
        raise ValueError("config: nested too deeply to be a configuration; flatten it") from None
    if expanded - written > limit:
        raise ValueError(
            f"config: YAML anchors and aliases (&name / *name) expand it to {expanded:,} values, "
            f"{expanded - written:,} more than written (at most {limit:,}); write the values out "
            "instead of aliasing them"
        )


check_config_files(workflow.configfiles)
check_alias_growth(config)


def coerce_cli_value(value, schema):
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


with open(workflow.source_path("../schemas/config.schema.yaml")) as schema_file:
    config.update(coerce_cli_value(dict(config), yaml.safe_load(schema_file)))


def schema_key_paths(schema, prefix=""):
    """(path, name) of every key the schema allows, nested ones included."""
    for name, sub in schema.get("properties", {}).items():
        yield f"{prefix}{name}", name
        items = sub.get("items")
        inner, suffix = (items, "[].") if isinstance(items, dict) else (sub, ".")
        yield from schema_key_paths(inner, f"{prefix}{name}{suffix}")


def config_error_message(error):
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


try:
    validate(config, schema="../schemas/config.schema.yaml")
except WorkflowError as error:
    # validate() raises WorkflowError while handling jsonschema's error, which it flattens to text
    schema_error = error.__cause__ or error.__context__
    if not isinstance(schema_error, jsonschema.ValidationError):
        raise
    raise ValueError(config_error_message(schema_error)) from None

# The FRED key is optional (no key: FRED's public CSV download). envvars: requires the
# variable to exist, so an absent key becomes an empty one; scripts treat "" as no key.
os.environ.setdefault("FRED_API_KEY", "")


envvars:
    "FRED_API_KEY",


SERIES = {s["id"]: s for s in config["series"]}

# The package's light modules (dates, the registries of sources and figures), read here
# from the workflow's own source tree with nothing beyond Snakemake installed (a dry run,
# `--sdm conda`, a module deployment); the rule scripts import the whole package.
sys.path.insert(0, os.path.normpath(os.path.join(str(workflow.current_basedir), "..", "..", "src")))
from corrflow.blocks import series_blocks, stored_dates, stretch_rows  # noqa: E402  (the all-pairs blocks)
from corrflow.dates import (  # noqa: E402  (one home for `latest` and business days)
    business_days,
    resolve_end,
    today_in_new_york,
)
from corrflow.sources import REGISTRY as SOURCE_REGISTRY  # noqa: E402  (the one list of sources)

# the source wildcard and the config check both come from the sources' registry
SOURCE_NAMES = sorted(SOURCE_REGISTRY)
from corrflow.figures import rule_outputs  # noqa: E402  (the report's figures: one registry)

# `end: latest` resolved once per run: a run on a later day asks for the new days
END = resolve_end(config["end"])
# the day the report says the data's age against (config `today`, else today in New York)
TODAY = config["today"] or today_in_new_york().isoformat()


EARLIEST_DATE = "1900-01-01"  # config `start`/`end` bound (schema: `start`)


def check_calendar_name(name, where):
    """An unknown calendar is one line with the close matches, before any job; with only
    Snakemake installed (no pandas_market_calendars) clean checks it instead."""
    try:
        from corrflow.calendars import check_calendar
    except ImportError:
        return
    check_calendar(name, where)


def check_config():
    """Checks a JSON schema cannot express; each names the config key to change."""
    ids = [s["id"] for s in config["series"]]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ValueError(f"config key `series`: duplicated id(s) {duplicated}; ids must be unique")
    for s in config["series"]:
        if s["source"] not in SOURCE_REGISTRY:
            raise ValueError(
                f"config key `series` ({s['id']}): source {s['source']!r} is unknown; "
                f"allowed: {', '.join(SOURCE_NAMES)}"
            )
    # before 1900 no calendar or series here has data (and pandas' days end in 1677); a
    # day after today has none yet
    today = today_in_new_york()
    for key, value in (("start", config["start"]), ("end", END)):
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"config key `{key}`: {value!r} is not a calendar date (YYYY-MM-DD)") from None
        if not date.fromisoformat(EARLIEST_DATE) <= day <= today:
            raise ValueError(
                f"config key `{key}`: {value} is outside {EARLIEST_DATE}..{today} (today); "
                f"give a date in that range{' or `latest`' if key == 'end' else ''}"
            )
    if END < config["start"]:
        raise ValueError(f"config key `end` ({END}) is before `start` ({config['start']})")
    days = business_days(config["start"], END)
    longest = max(config["correlation"]["windows"])
    if longest > days:
        raise ValueError(
            f"config key `correlation.windows`: window {longest} is longer than the "
            f"{days} business days from `start` to `end`; shorten it or widen the range"
        )
    for a, b in config["correlation"]["pairs"]:
        if a == b:
            raise ValueError(
                f"config key `correlation.pairs`: pair [{a}, {b}] pairs a series with itself (its "
                f"correlation is 1 by definition); name two different series"
            )
        for series_id in (a, b):
            if series_id not in SERIES:
                raise ValueError(
                    f"config key `correlation.pairs`: pair [{a}, {b}] names {series_id!r}, "
                    f"which is not in `series` (known: {', '.join(ids)})"
                )
    for s in config["series"]:
        if s["kind"] == "yield" and "maturity" not in s:
            raise ValueError(f"config key `series`: yield series {s['id']!r} needs `maturity` (years)")
        if s["kind"] == "fx" and "base" not in s:
            raise ValueError(
                f"config key `series`: fx series {s['id']!r} needs `base` (e.g. EUR for DEXUSEU)"
            )
        if s.get("calendar"):
            check_calendar_name(s["calendar"], f"config key `series` ({s['id']}): calendar")
    cash = config["features"]["cash_rate"]
    if cash is not None and (cash not in SERIES or SERIES[cash]["kind"] != "yield"):
        raise ValueError(f"config key `features.cash_rate`: {cash!r} must be a yield series in `series`")
    for key in ("equity", "bond", "vix"):
        series_id = config["stress"][key]
        if series_id is not None and series_id not in SERIES:
            raise ValueError(f"config key `stress.{key}`: {series_id!r} is not in `series`")
    for episode in config["stress"]["episodes"]:
        if episode["end"] < episode["start"]:
            raise ValueError(f"config key `stress.episodes`: {episode['name']!r} ends before it starts")
    primary = config["correlation"]["primary_window"]
    if primary is not None and primary not in config["correlation"]["windows"]:
        raise ValueError(
            f"config key `correlation.primary_window`: {primary} is not one of `correlation.windows` "
            f"{config['correlation']['windows']}"
        )
    for entry in config["all_pairs"]["history_of"]:
        unknown = [s for s in entry.split(":") if s not in SERIES]
        if unknown:
            raise ValueError(
                f"config key `all_pairs.history_of`: {entry!r} names {', '.join(unknown)}, not in `series`; "
                "give a series id (every pair with it) or A:B"
            )
    model_pair = config["model"]["pair"]
    if model_pair is not None and list(model_pair) not in [list(p) for p in config["correlation"]["pairs"]]:
        raise ValueError(f"config key `model.pair`: {model_pair} is not one of `correlation.pairs`")


check_config()


def check_numbers_fit_the_data():
    """Numbers bounded by the data the range can hold (the schema bounds them absolutely)."""
    days = business_days(config["start"], END)
    window = config["correlation"]["primary_window"] or config["correlation"]["windows"][0]
    horizon = config["model"]["horizon"]
    if config["model"]["enabled"] and horizon + window >= days:
        raise ValueError(
            f"config key `model.horizon`: {horizon} business days ahead do not fit in the {days} business "
            f"days from `start` to `end` with the {window}-day window (at most {days - window - 1}, and a "
            f"useful model needs far fewer); shorten it or widen the range"
        )
    all_pairs_window = config["all_pairs"]["window"]
    if config["all_pairs"]["enabled"] and all_pairs_window > days:
        raise ValueError(
            f"config key `all_pairs.window`: window {all_pairs_window} is longer than the {days} business "
            f"days from `start` to `end`; shorten it or widen the range"
        )


def universe_days_at_most():
    """clean.parquet's rows at most, from the config alone and the standard library: every
    day from start to end with a 7-day calendar such as 24/7, else every weekday (cheap
    enough for every parse; the rules' memory plans)."""
    seven_days = any(s.get("calendar") in ("24/7",) for s in config["series"])
    first, last = date.fromisoformat(config["start"]), date.fromisoformat(END)
    return (last - first).days + 1 if seven_days else business_days(config["start"], END)


@lru_cache(maxsize=None)
def clean_rows_at_most():
    """clean.parquet's rows at most, from the config alone (at parse time, with only
    Snakemake): the union of the universe's calendars from start to end, counted from
    the calendars when pandas_market_calendars is there (the all-pairs plan), else
    ``universe_days_at_most``."""
    try:
        from corrflow.calendars import default_calendar, sessions

        days = None
        for name in sorted({default_calendar(s) for s in config["series"]}):
            own = sessions(name, config["start"], END)
            days = own if days is None else days.union(own)
        return len(days)
    except ImportError:  # only Snakemake here (a dry run on a login node)
        return universe_days_at_most()


def all_pairs_block_mb(n_blocks):
    """Memory of one all-pairs block in MB, with the pairs split into ``n_blocks``: the sum of what its
    process holds (measured against the peak RSS of real blocks: tests/test_slurm.py):

    - 500 MB: Python with numpy, pandas, pyarrow and numba, compiling the kernels in a
      fresh copy of the workflow (up to 380 MB measured for a small block in a fresh
      clone; about 280 MB with the kernels cached);
    - 4 float64 per series and day: clean.parquet's levels as read, the panel's levels and
      log levels (``corrflow.rolling.JointDayPanel``) and a temporary while taking the logs; the
      days are clean.parquet's rows, the union of the universe's calendars (every
      calendar day with a 24/7 series, else about the business days);
    - per pair of the block (of an average block): its window (a ring of 2 x window
      float64) and 12 float64 of state (``corrflow.kernels.joint_day_corr``), the two
      buffers of a stretch of ~256 dates the kernel and the writer alternate, and per
      stored date of a stretch (every date, or its month-ends: at most a quarter of its
      dates whatever the calendar) the long layout's date and two int32 series codes
      (``corrflow.store.LongColumns``), the value and its encoded page; plus 8 int64 of
      pair indices;
    - 6 int64 per pair of the universe: every pair's indices, listed before the block's
      are picked (``corrflow.rolling.AllPairsBySeries``).
    """
    settings = config["all_pairs"]
    n = len(config["series"])
    days = clean_rows_at_most()
    pairs = n * (n - 1) / 2 / n_blocks  # blocks differ by ~2% (corrflow.blocks.series_blocks)
    window = settings["window"]
    rows = stretch_rows(window)  # as corrflow.store.write_all_pairs
    every_day = stored_dates(settings["dates"], n) == "every_day"
    stored_rows = rows if every_day else rows // 4 + 2
    per_value = 4 if settings["dtype"] == "float32" else 8
    per_pair = (
        2 * window * 8 + 12 * 8 + rows * 2 * per_value + stored_rows * (8 + 2 * 4 + 2 * per_value + 8) + 8 * 8
    )
    total = 500e6 + 4 * 8 * days * n + pairs * per_pair + 6 * 8 * n * (n - 1) / 2
    return int(total / 1e6)


def all_pairs_mem_mb(wildcards, attempt):
    """The rule's mem_mb: ``all_pairs_block_mb`` of the planned blocks, doubled on each retry."""
    return all_pairs_block_mb(config["all_pairs"]["n_blocks"]) * 2 ** (attempt - 1)


def blocks_within_budget(wanted, budget, n_series):
    """The fewest blocks (at least ``wanted``) whose planned memory fits ``all_pairs.mem_mb``;
    a budget below a block of one first series stops the run with one line."""
    fewest = max(1, n_series - 1)
    if all_pairs_block_mb(fewest) > budget:
        raise ValueError(
            f"config key `all_pairs.mem_mb`: {budget} MB is below the {all_pairs_block_mb(fewest)} MB a "
            f"block of one first series needs for {n_series} series from {config['start']} to {END}; raise "
            "it, or shorten the range"
        )
    low, high = max(1, wanted), max(wanted, fewest)
    while low < high:  # planned memory falls as blocks are added
        middle = (low + high) // 2
        if all_pairs_block_mb(middle) <= budget:
            high = middle
        else:
            low = middle + 1
    if low > wanted:
        print(
            f"note: config key `all_pairs.mem_mb`: {budget} MB per block; {low} blocks of "
            f"{all_pairs_block_mb(low)} MB planned",
            file=sys.stderr,
        )
    return low


def cap_all_pairs_blocks():
    """No more blocks than hold pairs: the blocks split the pairs by their first series,
    so at most N - 1 of them, and no more than a split leaves non-empty (a few tries
    downwards; a universe of thousands of series may keep an empty block or two)."""
    n_series, wanted = len(config["series"]), config["all_pairs"]["n_blocks"]
    budget = config["all_pairs"]["mem_mb"]
    if budget is not None and config["all_pairs"]["enabled"]:
        wanted = blocks_within_budget(wanted, budget, n_series)
    blocks = max(1, min(wanted, n_series - 1))
    blocks = max(1, sum(1 for block in series_blocks(n_series, blocks) if len(block)))
    for _ in range(16):
        if all(len(block) for block in series_blocks(n_series, blocks)) or blocks == 1:
            break
        blocks -= 1
    config["all_pairs"]["n_blocks"] = blocks
    if blocks < wanted:
        if config["all_pairs"]["enabled"]:
            print(
                f"note: config key `all_pairs.n_blocks`: {wanted} blocks for {n_series * (n_series - 1) // 2} "
                f"pairs of {n_series} series; {blocks} planned (the blocks split the pairs by their first "
                "series)",
                file=sys.stderr,
            )


check_numbers_fit_the_data()
cap_all_pairs_blocks()


scattergather:
    all_pairs=config["all_pairs"]["n_blocks"],


def stress_settings():
    """Stress rules with the defaults filled in: equity = first series of the first pair,
    bond = first yield series named in a pair."""
    settings = dict(config["stress"])
    pairs = config["correlation"]["pairs"]
    if settings["equity"] is None:
        settings["equity"] = pairs[0][0]
    if settings["bond"] is None:
        in_pairs = [s for pair in pairs for s in pair]
        yields = [s for s in in_pairs if SERIES[s]["kind"] == "yield"]
        settings["bond"] = yields[0] if yields else None
    return settings


def primary_window():
    """The window sign regimes, Markov fits, the model and the report headline use."""
    correlation = config["correlation"]
    return correlation["primary_window"] or correlation["windows"][0]


def memory_mb(base, per_series_day=150):
    """mem_mb for a rule: ``base`` MB plus ``per_series_day`` bytes per series and day
    (``universe_days_at_most``: the universe's panel, which most rules hold whole: ~100 B measured at
    1,000 series x 7,305 days, benchmarks/scale_universe.py), on the first attempt,
    doubled on each retry. The bases (2000-3000) are well above the peak RSS in the rules'
    `benchmark:` files (logs/benchmarks/): at most 410 MB (regimes) on the default
    universe, 2026-12-04, and 1.5 GB (dashboard) on a 1,000-series one
    (docs/performance.md)."""
    planned = int(base + per_series_day * len(config["series"]) * universe_days_at_most() / 1e6)

    def mem_mb(wildcards, attempt):
        return planned * 2 ** (attempt - 1)

    return mem_mb


def scatter_block(wildcards):
    """Snakemake's scatter item "k-of-n" as the 0-based block index."""
    return int(wildcards.scatteritem.split("-of-")[0]) - 1


def is_activated(section):
    """Optional branches (task G) are switched by `<section>: enabled:` in config."""
    return bool(config[section]["enabled"])


def sources():
    """The sources the universe uses, one ingest job each."""
    return sorted({s["source"] for s in config["series"]})


def source_series(wildcards):
    return [s for s in config["series"] if s["source"] == wildcards.source]


def raw_files():
    return expand(rules.ingest.output.csv, source=sources())


def ok_files():
    return expand(rules.ingest.output.ok, source=sources())


# report() read as a plain function (the name at the start of a line is a Snakemake keyword)
in_snakemake_report = report


def figure_outputs():
    """The report rule's figure outputs, one named output per figure in
    corrflow/figures (a list for a per-pair figure), marked for `snakemake --report`
    with their captions; a pair with a series that has no data is drawn as a notice and gets
    no placeholder in the HTML report."""
    return rule_outputs(config["correlation"]["pairs"], "docs", series_without_data(), in_snakemake_report)


def series_without_data():
    """Series a finished run found no data for (clean.parquet's metadata), so that
    `snakemake --report` declares no figure for their pairs; empty before the first run."""
    path = rules.clean.output.out
    if not os.path.exists(path):
        return set()
    import json

    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(b"corrflow")
    series = json.loads(raw).get("series", {}) if raw else {}
    return {
        k
        for k, m in series.items()
        if m.get("status") == "missing" or m.get("in_clean") is False or not m.get("last")
    }


def report_inputs(wildcards):
    inputs = {
        "clean": rules.clean.output.out,
        "corr": rules.rolling_corr.output.out,
        "regimes": rules.regimes.output.out,
        "episodes": rules.regimes.output.episodes,
        "horizons": rules.regimes.output.horizons,
        "dq": rules.dq.output.json,
        "gaps": rules.rolling_corr.output.gaps,
        "exceedance": rules.regimes.output.exceedance,
    }
    if is_activated("model"):
        inputs["metrics"] = rules.model.output.metrics
    if is_activated("all_pairs"):
        inputs["all_pairs"] = rules.all_pairs.output.manifest
    return inputs


def dashboard_inputs(wildcards):
    inputs = {
        "clean": rules.clean.output.out,
        "corr": rules.rolling_corr.output.out,
        "regimes": rules.regimes.output.out,
        "episodes": rules.regimes.output.episodes,
        "exceedance": rules.regimes.output.exceedance,
    }
    if is_activated("all_pairs"):
        inputs["all_pairs"] = rules.all_pairs.output.manifest
    return inputs


def final_outputs():
    # features.parquet (task C) is a product in itself, whether or not the model reads it
    outputs = [*rules.report.output, rules.dq.output.md, *rules.dashboard.output, rules.features.output.out]
    if is_activated("model"):
        outputs += list(rules.model.output)
    if is_activated("all_pairs"):
        outputs.append(rules.all_pairs.output.manifest)
    return outputs
