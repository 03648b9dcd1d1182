"""pyproject.toml and environment.yml must declare the same dependencies."""
import re
import tomllib

import yaml

from clm_lib.config import REPO_ROOT


def _name_and_spec(req: str) -> tuple[str, str]:
    # pip extras ("ibis-framework[duckdb,pyspark]") have no conda spelling: compare names.
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*)$", req)
    name = m.group(1).lower().replace("_", "-")
    spec = ",".join(sorted(s.strip() for s in m.group(2).split(",") if s.strip()))
    return name, spec


def _pyproject_requirements() -> dict[str, str]:
    meta = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]
    reqs = list(meta["dependencies"]) + list(extras["test"]) + list(extras["bench"])
    return dict(_name_and_spec(r) for r in reqs)


def _conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    reqs = [d for d in env["dependencies"] if isinstance(d, str)]
    out = dict(_name_and_spec(r) for r in reqs)
    out.pop("python", None)
    out.pop("pip", None)
    return out


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    assert _conda_requirements() == _pyproject_requirements()


def test_environment_yml_installs_the_package_itself():
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_sections and "-e ." in pip_sections[0]


def test_python_requirement_agrees():
    meta = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    assert f"python{meta['requires-python']}" in env["dependencies"]
