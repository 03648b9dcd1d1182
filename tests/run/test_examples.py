"""The example configs: every study runs on a bundled sample through exactly one of them,
and what they set is what the studies take."""
from __future__ import annotations

import pytest
import yaml

from clm_lib.config import EXAMPLES_DIR, NOTEBOOKS_DIR
from clm_lib.run.discovery import list_studies
from clm_lib.run.parameters import resolve_parameters


def _configs() -> dict:
    return {f.name: yaml.safe_load(f.read_text(encoding="utf-8"))
            for f in sorted(EXAMPLES_DIR.glob("*.yml"))}


def test_each_study_has_one_example_config():
    studies = {s.name for s in list_studies(NOTEBOOKS_DIR)}
    owners: dict[str, list[str]] = {s: [] for s in studies}
    for name, cfg in _configs().items():
        assert set(cfg["studies"]) <= studies, f"{name} names an unknown study"
        for s in cfg["studies"]:
            owners[s].append(name)
    assert {s: len(v) for s, v in owners.items()} == {s: 1 for s in studies}


@pytest.mark.parametrize("name", sorted(_configs()))
def test_example_config_values_are_parameters_of_its_studies(name):
    """Every value of the config reaches a study that has it (no typo goes unnoticed), and
    the paths it names exist."""
    cfg = dict(_configs()[name])
    all_studies = list_studies(NOTEBOOKS_DIR)
    for_studies = cfg.pop("studies")
    mine = [s for s in all_studies if s.name in for_studies]
    values = resolve_parameters(mine, all_studies=all_studies, run_all=False, config=cfg,
                                cwd=EXAMPLES_DIR)
    shared = {k for k in cfg if k not in {s.name for s in all_studies}}
    for key in shared:
        assert any(key in v for v in values.values()), f"{name}: {key} reaches no study"
    for v in values.values():
        for key in ("transactions", "subscriptions", "leads"):
            if v.get(key):
                assert (EXAMPLES_DIR / v[key]).resolve().exists()


def test_a_run_without_input_says_how_to_give_one():
    """The studies have no data of their own: a bare `clm run` stops before any kernel
    with exit code 2, naming each study's missing input once and the ways to give it."""
    from click.testing import CliRunner

    from clm_lib.cli import cli

    result = CliRunner().invoke(cli, ["run", "-q"])
    assert result.exit_code == 2
    assert result.output.count("examples/cdnow.yml") == 1
    assert "clv: transactions is required" in result.output and "clm init FILE" in result.output
