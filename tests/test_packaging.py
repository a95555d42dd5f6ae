"""Packaging: conda envs hold every import of the scripts they serve, the config docs cover
every schema key, short config errors, and the catalog, CI and container files agree with
the pinned requirements."""

import ast
import fnmatch
import re
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, snakemake

RULE_FILES = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]

# Import name -> the conda-forge package(s) that provide it; any other module is expected
# under its own name. Add a line here when a script imports a library whose conda name differs.
CONDA_NAMES = {
    "yaml": ("pyyaml",),
    "sklearn": ("scikit-learn",),
    "arch": ("arch-py",),
    "matplotlib": ("matplotlib-base", "matplotlib"),
    "PIL": ("pillow",),
    "dateutil": ("python-dateutil",),
    "bs4": ("beautifulsoup4",),
    "pandas_market_calendars": ("pandas_market_calendars",),
    "exchange_calendars": ("exchange_calendars",),
    "fredapi": ("fredapi",),
    "yfinance": ("yfinance",),
    "plotly": ("plotly",),
}
# conda-forge name -> PyPI name where they differ (to compare pins with requirements.txt)
PIP_NAMES = {"arch-py": "arch", "matplotlib-base": "matplotlib"}
PYTHON_VERSION = "3.11"


# --- rules -> conda env -> script ----------------------------------------------------------


def directive(block: str, name: str) -> str | None:
    """The literal value of a rule directive (`conda:`, `script:`), on its line or the next."""
    match = re.search(rf"^[ \t]+{name}:[ \t]*(?:#.*)?\n?[ \t]*(\S.*)$", block, re.M)
    if not match:
        return None
    text = match.group(1).split("  #")[0].rstrip().rstrip(",")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise AssertionError(
            f"{name}: {text!r} is not a plain string; this test reads literal paths only"
        ) from None
    return value


def rule_scripts(rule_files: list[Path]) -> list[dict]:
    """Every rule (or checkpoint) in the Snakefile and rule files: name, file, conda env and
    script (absolute paths, resolved like Snakemake does: relative to the rule's file)."""
    found = []
    for smk in rule_files:
        text = smk.read_text()
        headers = list(re.finditer(r"^(?:rule|checkpoint)\s+(\w+)\s*:", text, re.M))
        for i, header in enumerate(headers):
            end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
            block = text[header.end() : end]
            # the block ends at the next unindented statement
            block = re.split(r"^(?=[^\s#])", block, maxsplit=1, flags=re.M)[0]
            conda, script = directive(block, "conda"), directive(block, "script")
            found.append(
                {
                    "rule": header.group(1),
                    "smk": smk,
                    "conda": (smk.parent / conda).resolve() if conda else None,
                    "script": (smk.parent / script).resolve() if script else None,
                }
            )
    return found


# --- script -> third-party imports -----------------------------------------------------------


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    """`except ImportError` marks an optional import; a broad `except Exception` does not."""
    if handler.type is None:
        return False
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    names = {node.id if isinstance(node, ast.Name) else getattr(node, "attr", "") for node in caught}
    return bool({"ImportError", "ModuleNotFoundError"} & names)


def module_imports(path: Path) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import in a file, at any depth (an import
    inside a function is needed as soon as that function runs), except optional ones
    (inside `try: ... except ImportError`) and relative ones (local by definition)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    optional: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers):
            optional |= {id(inner) for stmt in node.body for inner in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from corrflow import summary` may name a submodule: both are candidates
            found += [(node.module, node.lineno)] + [
                (f"{node.module}.{a.name}", node.lineno) for a in node.names
            ]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and not node.args[0].value.startswith(".")
        ):
            found.append((node.args[0].value, node.lineno))
    return found


def local_files(module: str, scripts_dir: Path) -> list[Path]:
    """The files behind a module of the workflow's own: beside the scripts (Snakemake puts
    the script's folder on sys.path) or in the package's source tree, src/ (the scripts put
    it on sys.path). A module file with its packages' __init__.py; a package below the
    top one, every file of it (a registry imports its members by name, which no static
    reading can follow); the top package itself, its __init__.py (its submodules are
    named where they are imported)."""
    parts = module.split(".")
    for folder in (scripts_dir, scripts_dir.parents[1] / "src"):
        path = folder.joinpath(*parts)
        inits = [folder.joinpath(*parts[:k], "__init__.py") for k in range(1, len(parts))]
        if path.with_suffix(".py").is_file():
            return [p for p in inits if p.is_file()] + [path.with_suffix(".py")]
        if path.is_dir() and len(parts) == 1 and (path / "__init__.py").is_file() and folder.name == "src":
            return [path / "__init__.py"]
        if path.is_dir():
            return [p for p in inits if p.is_file()] + sorted(path.rglob("*.py"))
    return []


def shown(path: Path, scripts_dir: Path) -> str:
    """A file as the messages name it: from the scripts' folder, or from src/."""
    for folder in (scripts_dir, scripts_dir.parents[1] / "src"):
        if path.is_relative_to(folder):
            return str(path.relative_to(folder))
    return path.name


def third_party_imports(script: Path) -> dict[str, str]:
    """Top-level third-party module -> where it is imported ("a.py:12 via b.py"), following
    local helper modules and packages transitively."""
    scripts_dir = script.parent
    found: dict[str, str] = {}
    queue, seen = [(script, script.name)], {script}
    while queue:
        path, chain = queue.pop(0)
        for module, line in module_imports(path):
            top = module.split(".")[0]
            local = local_files(module, scripts_dir)
            if local:
                for file in local:
                    if file not in seen:
                        seen.add(file)
                        queue.append((file, f"{shown(file, scripts_dir)} via {chain}"))
            elif (
                top not in sys.stdlib_module_names
                and top != "__future__"
                and not local_files(top, scripts_dir)
            ):
                found.setdefault(top, f"{shown(path, scripts_dir)}:{line} ({chain})")
    return found


# --- conda envs ------------------------------------------------------------------------------


def env_packages(env_file: Path) -> dict[str, str | None]:
    """Package name -> pinned version (None if unpinned) of a conda env file, pip section included."""
    spec = yaml.safe_load(env_file.read_text())
    packages = {}
    for dependency in spec.get("dependencies", []):
        entries = dependency.get("pip", []) if isinstance(dependency, dict) else [dependency]
        for entry in entries:
            # "numba =0.68.1", "conda-forge::numba=0.68.1", pip's "yfinance==1.7.0"
            match = re.match(r"^\s*(?:\S+::)?([A-Za-z0-9_.\-]+)\s*(?:[=<>!~]=?\s*([^\s,;]+))?", entry)
            packages[match.group(1).lower()] = match.group(2)
    return packages


def missing_from_envs(rule_files: list[Path]) -> list[str]:
    """One line per third-party import a rule's script makes that its conda env lacks."""
    problems = []
    for rule in rule_scripts(rule_files):
        if rule["script"] is None or rule["script"].suffix != ".py":
            continue
        if rule["conda"] is None:
            problems.append(f"rule {rule['rule']} ({rule['smk'].name}) runs a script but has no conda: env")
            continue
        declared = env_packages(rule["conda"])
        for module, where in sorted(third_party_imports(rule["script"]).items()):
            accepted = CONDA_NAMES.get(module, (module,))
            if not any(name.lower() in declared for name in accepted):
                problems.append(
                    f"rule {rule['rule']}: {where} imports {module}, but {rule['conda'].name} "
                    f"declares none of {', '.join(accepted)}"
                )
    return problems


def test_every_rule_script_import_is_in_its_conda_env():
    rules = rule_scripts(RULE_FILES)
    assert len([r for r in rules if r["script"]]) >= 8, "the rule parser found too few scripts"
    assert missing_from_envs(RULE_FILES) == []


def write_synthetic_workflow(root: Path, env_lines: list[str]) -> list[Path]:
    """A rule whose script reaches scipy through a helper module and yfinance through a
    package member that only a registry would load, imports statsmodels inside a broad
    try/except and arch by name; plotly is optional; json is stdlib."""
    (root / "workflow/rules").mkdir(parents=True)
    (root / "workflow/scripts/_sources").mkdir(parents=True)
    (root / "envs").mkdir()
    (root / "workflow/rules/demo.smk").write_text(
        "rule demo:\n"
        "    output:\n"
        '        "out.txt",\n'
        "    conda:\n"
        '        "../../envs/demo.yaml"\n'
        "    script:\n"
        '        "../scripts/demo.py"\n'
        "\n\n"
        "rule shell_only:\n"
        "    output:\n"
        '        "x.txt",\n'
        "    shell:\n"
        '        "touch {output}"\n'
    )
    (root / "workflow/scripts/demo.py").write_text(
        "import importlib\n"
        "import json\n"
        "import pandas as pd\n"
        "from _stats import spread\n"
        "from _sources import registry\n"
        "try:\n"
        "    import plotly\n"
        "except ImportError:\n"
        "    plotly = None\n"
        "def fit(x):\n"
        "    try:\n"
        "        import statsmodels.api as sm\n"
        "    except Exception:\n"
        "        raise SystemExit(1)\n"
        "    return importlib.import_module('arch')\n"
    )
    (root / "workflow/scripts/_stats.py").write_text(
        "def spread(x):\n    from scipy.stats import iqr\n\n    return iqr(x)\n"
    )
    (root / "workflow/scripts/_sources/__init__.py").write_text("")
    (root / "workflow/scripts/_sources/registry.py").write_text(
        "import importlib\n\ndef load(name):\n    return importlib.import_module(f'_sources.{name}')\n"
    )
    (root / "workflow/scripts/_sources/yahoo.py").write_text("from . import registry\nimport yfinance\n")
    (root / "envs/demo.yaml").write_text(
        "channels: [conda-forge]\ndependencies:\n" + "".join(f"  - {line}\n" for line in env_lines)
    )
    return [root / "workflow/rules/demo.smk"]


def test_env_check_names_each_import_its_env_lacks(tmp_path):
    rule_files = write_synthetic_workflow(tmp_path, ["python =3.11", "pandas =3.1.1"])
    problems = missing_from_envs(rule_files)
    assert len(problems) == 4, problems
    arch, scipy, statsmodels, yfinance = problems
    assert "demo.py:15" in arch and "declares none of arch-py" in arch
    assert "_stats.py:2" in scipy and "imports scipy" in scipy and "demo.yaml" in scipy
    assert "demo.py:12" in statsmodels and "imports statsmodels" in statsmodels
    assert "_sources/yahoo.py:2" in yfinance and "imports yfinance" in yfinance


def test_env_check_passes_once_the_env_declares_them(tmp_path):
    declared = ["python =3.11", "pandas =3.1.1", "conda-forge::scipy =1.17.1", "statsmodels", "arch-py"]
    rule_files = write_synthetic_workflow(tmp_path, declared)
    env = tmp_path / "envs/demo.yaml"
    env.write_text(env.read_text() + "  - pip:\n      - yfinance==1.7.0\n")
    assert missing_from_envs(rule_files) == []


def test_env_check_requires_a_conda_env_for_script_rules(tmp_path):
    rule_files = write_synthetic_workflow(tmp_path, ["python =3.11"])
    smk = rule_files[0]
    smk.write_text(smk.read_text().replace('    conda:\n        "../../envs/demo.yaml"\n', ""))
    assert missing_from_envs(rule_files) == ["rule demo (demo.smk) runs a script but has no conda: env"]


# --- pins: envs, requirements, container, CI ----------------------------------------------------


def requirement_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


@pytest.mark.parametrize("env_file", sorted((ROOT / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_env_pins_match_requirements(env_file):
    pins = requirement_pins()
    spec = yaml.safe_load(env_file.read_text())
    assert spec["channels"][0] == "conda-forge"
    for name, version in env_packages(env_file).items():
        if name == "python":
            assert (
                version == PYTHON_VERSION
            ), f"{env_file.name}: python ={version}, Dockerfile and CI use {PYTHON_VERSION}"
            continue
        pip_name = PIP_NAMES.get(name, name).replace("_", "-")
        assert version is not None, f"{env_file.name}: {name} is not pinned"
        assert (
            pins.get(pip_name) == version
        ), f"{env_file.name}: {name} ={version}, requirements.txt pins {pip_name}=={pins.get(pip_name)}"


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [tuple(line.split(None, 1)) for line in lines]


def test_dockerfile_uses_the_pinned_python_and_requirements():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", f"python:{PYTHON_VERSION}-slim")
    runs = [args for op, args in instructions if op == "RUN"]
    assert any(re.search(r"pip install (?:\S+ )*-r requirements\.txt", run) for run in runs)
    assert ("CMD", '["snakemake", "--cores", "2"]') in instructions


def test_docker_image_holds_the_workflow(tmp_path):
    """The image's COPY steps (with .dockerignore) give a folder Snakemake can plan in."""
    from run import WORKFLOW_PARTS

    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for generated in (".venv", ".snakemake", "data/raw", "data/processed", "logs"):
        assert generated in ignored, f".dockerignore should exclude {generated}"
    image = tmp_path / "work"
    image.mkdir()
    copied = []
    for op, args in dockerfile_instructions():
        if op != "COPY":
            continue
        *sources, dest = args.split()
        for source in sources:
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), f"{source} is ignored"
            target = image / dest / source if dest.endswith("/") else image / dest
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / source, target)
            copied.append(source)
    assert set(WORKFLOW_PARTS) <= set(copied), f"Dockerfile does not copy {set(WORKFLOW_PARTS) - set(copied)}"
    result = snakemake(image, "-n", "--config", "offline=true")
    assert re.search(r"^report\s+1", result.stdout, re.M)


def test_ci_runs_lint_and_tests_on_the_pinned_python():
    ci = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    steps = [step for job in ci["jobs"].values() for step in job["steps"]]
    uses = [step.get("uses", "") for step in steps]
    runs = " ".join(step.get("run", "") for step in steps)
    assert any(u.startswith("actions/checkout@") for u in uses)
    # a Debian image with the pinned Python, as the project's own CI machine (apt's chromium)
    images = [job.get("container", "") for job in ci["jobs"].values()]
    assert images == [f"python:{PYTHON_VERSION}-bookworm"]
    assert "make lint" in runs and "make test" in runs
    assert runs.index("make lint") < runs.index("make test")


def test_lint_target_runs_ruff_at_the_project_line_length():
    makefile = (ROOT / "Makefile").read_text()
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "ruff check" in lint and "snakemake --lint" in lint and "snakefmt --check" in lint
    tools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    assert tools["ruff"]["line-length"] == tools["black"]["line-length"] == 110


def test_workflow_catalog_settings():
    settings = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    assert settings["software-stack-deployment"]["conda"] is True
    assert {"desc", "flags"} <= set(settings["mandatory-flags"])
    assert (ROOT / "config/README.md").is_file() and (ROOT / "LICENSE").is_file()
    assert "MIT License" in (ROOT / "LICENSE").read_text()


# --- config documentation ---------------------------------------------------------------------


def schema_paths(schema: dict, root: dict, prefix: str = "") -> list[str]:
    """Every property path of the config schema: `correlation.windows`, `series[].kind`."""
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    paths = []
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        paths += [path, *schema_paths(sub, root, path)]
    if isinstance(schema.get("items"), dict):
        paths += schema_paths(schema["items"], root, f"{prefix}[]")
    return paths


def test_config_readme_documents_every_schema_key():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    paths = schema_paths(schema, schema)
    assert "correlation.windows" in paths and "series[].kind" in paths and "regimes.markov.refit" in paths
    readme = (ROOT / "config/README.md").read_text()
    undocumented = [path for path in paths if f"`{path}`" not in readme]
    assert undocumented == [], f"config/README.md does not document: {', '.join(undocumented)}"


def config_readme_rows() -> dict[str, list[str]]:
    """The key table of config/README.md: key path -> its cells (type, default, shipped, meaning)."""
    rows = {}
    for line in (ROOT / "config/README.md").read_text().splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        if cells and re.fullmatch(r"`[^`]+`", cells[0]):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def yaml_text(value) -> str:
    """A value as the README shows it: YAML flow style, in backticks."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).removesuffix("\n...\n").strip()
    return f"`{text.strip(chr(39))}`"


def test_config_readme_values_match_schema_and_config():
    """The default column is the schema's default and the config/config.yaml column is what
    the shipped config sets, for every key whose value is a scalar or a list of scalars."""
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    shipped = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    checked = 0
    for path, (_type, default, in_config, _meaning) in config_readme_rows().items():
        node, value, in_shipped = schema, shipped, True
        for part in path.replace("[]", ".[]").split("."):
            node = node["items"] if part == "[]" else node.get("properties", {}).get(part, {})
            in_shipped = in_shipped and part != "[]" and isinstance(value, dict) and part in value
            value = value.get(part) if in_shipped else None
        if "default" in node and not isinstance(node["default"], dict):
            if not (
                isinstance(node["default"], list) and node["default"] and isinstance(node["default"][0], dict)
            ):
                assert default == yaml_text(node["default"]), f"{path}: README default {default}"
                checked += 1
        if (
            in_shipped
            and not isinstance(value, dict)
            and not (isinstance(value, list) and isinstance(value[0], dict))
        ):
            assert in_config == yaml_text(value), f"{path}: README says config/config.yaml has {in_config}"
            checked += 1
        elif not in_shipped:
            assert in_config == "", f"{path}: README shows {in_config}, config/config.yaml does not set it"
    assert checked >= 40


# --- config errors: short, key first -------------------------------------------------------------


def edit_config(workdir: Path, edit) -> None:
    config_file = workdir / "config/config.yaml"
    config = yaml.safe_load(config_file.read_text())
    edit(config)
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))


def dgs10(config: dict) -> dict:
    return next(spec for spec in config["series"] if spec["id"] == "DGS10")


@pytest.mark.e2e
@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            lambda c: c.update(pairs=[["SPY", "DGS10"]]),
            re.escape(
                "config key `pairs`: unknown key (did you mean `correlation.pairs`?); allowed: start, end,"
            ),
        ),
        (
            lambda c: c["correlation"].update(windwos=[60]),
            re.escape(
                "config key `correlation.windwos`: unknown key (did you mean `correlation.windows`?); "
                "allowed: pairs, windows"
            ),
        ),
        (
            lambda c: c["correlation"].update(windows="sixty"),
            re.escape("config key `correlation.windows`: got 'sixty' (str); expected array"),
        ),
        (
            lambda c: dgs10(c).update(kind="yeild"),
            r"config key `series\[\d+\]\.kind` \(DGS10\): got 'yeild'; allowed: price, yield, fx, level$",
        ),
    ],
    ids=["unknown-top-level-key", "unknown-nested-key", "wrong-type", "enum"],
)
def test_config_error_is_short_and_names_the_key(workflow_copy, edit, expected):
    edit_config(workflow_copy, edit)
    result = snakemake(workflow_copy, "-n", check=False)
    output = (result.stderr + result.stdout).splitlines()
    assert result.returncode != 0
    # Snakemake prints an exception raised in a Snakefile as "<Type> in file F, line N:", the
    # message, then the traceback's frames (one here: the validation is at module level)
    start = next(i for i, line in enumerate(output) if re.match(r"^\w+ in file .*, line \d+:$", line))
    block = output[start:]
    assert re.match(expected, block[1]), block
    assert len(block) <= 3, block
    # besides the block, only Snakemake's notes on the profile and config in use
    assert len(output) <= 5, output
