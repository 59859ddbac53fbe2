"""The package as a researcher installs it: metadata that agrees with requirements.txt, shipped files found in
the documented order, and (slow) a wheel and an editable install in fresh virtual environments, used from
another directory."""
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import tbptt_viz
from tbptt_viz.core import resources
from tbptt_viz.core.checkpoint import PRETRAINED_ENV, pretrained_dir

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirement_lines(path: Path) -> list[str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("-r")]


def test_pyproject_dependencies_are_requirements_txt():
    project = PYPROJECT["project"]
    assert sorted(project["dependencies"]) == sorted(requirement_lines(ROOT / "requirements.txt"))
    assert "torch==2.13.0" in project["dependencies"]  # any other torch pulls a multi-GB CUDA build
    assert sorted(project["optional-dependencies"]["dev"]) == sorted(requirement_lines(ROOT / "requirements-dev.txt"))
    assert project["requires-python"] == ">=3.11"
    assert project["scripts"] == {"tbptt-viz": "tbptt_viz.cli:main"}
    assert "tbptt_viz.cli import main" in (ROOT / "tbptt_viz" / "__main__.py").read_text()  # = python -m tbptt_viz


def test_version_is_one_string_and_the_changelog_names_it():
    assert re.fullmatch(r"0\.\d+\.\d+", tbptt_viz.__version__)
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "tbptt_viz.__version__"}
    releases = re.findall(r"^## \[(\d[^\]]*)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert releases and releases[0] == tbptt_viz.__version__, "the newest release in CHANGELOG.md is the version"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_shipped_folders_resolve_env_then_installed_then_clone(tmp_path, monkeypatch):
    installed, clone = tmp_path / "site" / "shipped", tmp_path / "clone"
    (clone / "pretrained").mkdir(parents=True)
    monkeypatch.setattr(resources, "INSTALLED", installed)
    monkeypatch.setattr(resources, "CLONE", clone)
    monkeypatch.delenv(PRETRAINED_ENV, raising=False)
    resources.bundled_dir.cache_clear()
    try:
        assert resources.shipped_dir("pretrained", PRETRAINED_ENV) == clone / "pretrained"   # only the clone
        (installed / "pretrained").mkdir(parents=True)
        resources.bundled_dir.cache_clear()
        assert resources.shipped_dir("pretrained", PRETRAINED_ENV) == installed / "pretrained"  # installed first
        monkeypatch.setenv(PRETRAINED_ENV, str(tmp_path / "mine"))  # the variable wins, even before it exists
        assert resources.shipped_dir("pretrained", PRETRAINED_ENV) == tmp_path / "mine"
        assert pretrained_dir() == tmp_path / "mine"
    finally:
        resources.bundled_dir.cache_clear()


def test_running_from_the_clone_finds_its_own_folders(monkeypatch):
    monkeypatch.delenv(PRETRAINED_ENV, raising=False)
    assert pretrained_dir() == ROOT / "pretrained"  # no tbptt_viz/shipped in a checkout: the clone's folders
    from tbptt_viz.core.data import RESULTS_DIR

    assert RESULTS_DIR == ROOT / "results"


# ---- slow: real installs ------------------------------------------------------------------------------------

def shipped_names() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "pretrained").glob("*/card.json"))


def source_copy(dest: Path) -> Path:
    """The repository's files (no .git, no build output), so building never writes into the checkout."""
    junk = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "site")
    shutil.copytree(ROOT, dest, ignore=junk)
    return dest


def fresh_venv(path: Path) -> Path:
    """A virtual environment that sees this interpreter's packages (torch is not downloaded again) and uses its
    pip and setuptools, so nothing is fetched: every install below is --no-deps --no-index."""
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


def clean_env(venv_python: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", PRETRAINED_ENV, "VIRTUAL_ENV")}
    return {**env, "OMP_NUM_THREADS": "1", "PATH": f"{venv_python.parent}{os.pathsep}{env.get('PATH', '')}"}


def used_from_elsewhere(venv_python: Path, where: Path) -> tuple[list[str], dict]:
    """`tbptt-viz models --json` and load_pretrained('imdb-full') run from a directory outside any checkout."""
    env = clean_env(venv_python)
    out = subprocess.run([str(venv_python.parent / "tbptt-viz"), "models", "--json"], cwd=where, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    names = sorted(card["name"] for card in json.loads(out.stdout))
    probe = ("import json, tbptt_viz; from tbptt_viz.core.checkpoint import pretrained_dir; "
             "from tbptt_viz.core.data import load_results; m = tbptt_viz.load_pretrained('imdb-full'); "
             "print(json.dumps({'package': tbptt_viz.__file__, 'models': str(pretrained_dir()), "
             "'version': tbptt_viz.__version__, 'hidden': m.lstm.hidden_size, "
             "'study': load_results('imdb_study.json') is not None}))")
    out = subprocess.run([str(venv_python), "-c", probe], cwd=where, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return names, json.loads(out.stdout)


@pytest.mark.slow
def test_wheel_installs_and_finds_its_models_from_anywhere(tmp_path):
    src = source_copy(tmp_path / "src")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("tbptt_viz-*.whl")
    assert wheel.stat().st_size < 64 << 20  # seven models of 5.5 MB each, barely compressible
    python = fresh_venv(tmp_path / "venv")
    installed = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    shutil.rmtree(src)  # nothing may come from the source tree any more
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    names, seen = used_from_elsewhere(python, elsewhere)
    assert names == shipped_names() and len(names) == len(shipped_names()) >= 7
    site = tmp_path / "venv" / "lib"
    assert Path(seen["package"]).is_relative_to(site) and Path(seen["models"]).is_relative_to(site)
    assert seen["version"] == tbptt_viz.__version__ and seen["hidden"] == 128 and seen["study"]


@pytest.mark.slow
def test_editable_install_uses_the_clone(tmp_path):
    src = source_copy(tmp_path / "src")
    python = fresh_venv(tmp_path / "venv")
    installed = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index",
                                "--no-build-isolation", "-q", "-e", str(src)], capture_output=True, text=True,
                               timeout=300)
    assert installed.returncode == 0, installed.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    names, seen = used_from_elsewhere(python, elsewhere)
    assert names == shipped_names()
    assert Path(seen["package"]) == src / "tbptt_viz" / "__init__.py"
    assert Path(seen["models"]) == src / "pretrained" and seen["study"]


def test_every_environment_variable_is_documented():
    """Each variable the code, scripts or tests read is in CONTRIBUTING.md's table; the package's own (TBPTT_VIZ_*)
    are in the README's as well."""
    sources = [*ROOT.glob("tbptt_viz/**/*.py"), *ROOT.glob("scripts/*.py"), *ROOT.glob("tests/*.py"), ROOT / "app.py"]
    found = set()
    for path in sources:
        found |= set(re.findall(r"\b((?:TBPTT_VIZ|BENCH)_[A-Z_]+)\b", path.read_text()))
    assert {"TBPTT_VIZ_PRETRAINED", "TBPTT_VIZ_DATA_DIR", "TBPTT_VIZ_WARMUP", "TBPTT_VIZ_SCREENSHOTS"} <= found
    contributing, readme = (ROOT / "CONTRIBUTING.md").read_text(), (ROOT / "README.md").read_text()
    for name in sorted(found):
        assert f"| `{name}` |" in contributing, name
        if name.startswith("TBPTT_VIZ_"):
            assert f"| `{name}` |" in readme, name


def test_no_tracked_file_reaches_10_mb():
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    for name in filter(None, tracked.stdout.split("\0")):
        path = ROOT / name
        assert not path.is_file() or path.stat().st_size < 10 << 20, name
