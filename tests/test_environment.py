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
    reqs = [*meta["dependencies"], *(r for extra in extras.values() for r in extra)]
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


# ---- the lock file that make installs from ---------------------------------------------
def _locked() -> dict[str, list[tuple[str, str]]]:
    """``name -> [(version, environment marker), ...]`` from requirements.lock (a universal
    lock may pin a package twice, for different Python versions)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for line in (REPO_ROOT / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", line)
        if m:
            name = m.group(1).lower().replace("_", "-")
            out.setdefault(name, []).append((m.group(2), (m.group(3) or "").strip()))
    return out


def test_lock_pins_every_declared_dependency_inside_its_range():
    """A stale lock (a range changed in pyproject.toml, `make lock` not run) fails here."""
    from packaging.markers import Marker
    from packaging.specifiers import SpecifierSet

    locked = _locked()
    meta = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    build = meta["build-system"]["requires"]
    env = {"python_full_version": "3.11.7", "python_version": "3.11"}
    for name, spec in {**_pyproject_requirements(), **dict(_name_and_spec(r) for r in build)}.items():
        assert name in locked, f"{name} is declared but not in requirements.lock: run make lock"
        versions = [v for v, marker in locked[name] if not marker or Marker(marker).evaluate(env)]
        assert len(versions) == 1, (name, locked[name])
        assert versions[0] in SpecifierSet(spec), f"{name}=={versions[0]} is outside {spec}: run make lock"


def test_lock_has_hashes_and_the_makefile_installs_from_it():
    text = (REPO_ROOT / "requirements.lock").read_text()
    pins = len(re.findall(r"^[A-Za-z0-9_.\-]+==", text, flags=re.M))
    assert pins > 100 and text.count("--hash=sha256:") >= pins
    assert "pip==" in text  # pip itself is pinned: nothing installs unpinned
    make = (REPO_ROOT / "Makefile").read_text()
    assert "--require-hashes -r $(LOCK)" in make and "--no-deps --no-build-isolation -e ." in make
    assert re.search(r"^lock:", make, flags=re.M) and re.search(r"^test-latest:", make, flags=re.M)
