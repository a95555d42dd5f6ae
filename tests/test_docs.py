"""The docs a newcomer navigates: a README of one page whose links all lead somewhere,
its notebook example run on a workflow's outputs, and a DAG page drawn by Snakemake."""

import re
import subprocess
import sys

import pytest

from conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_the_readme_is_one_page_and_every_link_leads_somewhere():
    assert len(README.splitlines()) <= 150
    links = re.findall(r"\]\(([^)#]+)\)", README)
    assert len(links) >= 10
    for link in links:
        assert (ROOT / link).exists(), link
    for page in (ROOT / "docs").glob("*.md"):
        for link in re.findall(r"\]\(([^)#:]+)\)", page.read_text()):
            assert (page.parent / link).exists(), f"{page.name}: {link}"


@pytest.mark.e2e
def test_the_readme_notebook_example_runs_on_a_workflows_outputs(workflow_run):
    workdir, _ = workflow_run
    block = re.search(r"## In a notebook\n\n```python\n(.*?)```", README, re.S).group(1)
    result = subprocess.run([sys.executable, "-c", block], cwd=workdir, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"


@pytest.mark.e2e
def test_the_dag_page_is_snakemakes_current_drawing(workflow_copy):
    from write_dag import dag_markdown

    assert (ROOT / "docs/dag.md").read_text() == dag_markdown(workflow_copy), "run `make dag`"
