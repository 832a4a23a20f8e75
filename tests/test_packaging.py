"""Packaging: the wheel carries every module under the attribution88 namespace (the
package-dir mapping of builders/, eval/, leaderboard/ silently drops a sub-package that is not
listed), no top-level `eval` or `builders`, and the data files; every module imports."""

import importlib
import pkgutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]
MAPPING = {"attribution88": "attribution88", "builders": "attribution88/builders",
           "eval": "attribution88/eval", "leaderboard": "attribution88/leaderboard"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(REPO)], check=True, cwd=build,
                   env={"PATH": "", "HOME": str(build), "PIP_NO_INPUT": "1"})
    (whl,) = out.glob("attribution88-*.whl")
    return zipfile.ZipFile(whl)


def _source_files(suffixes):
    for folder, target in MAPPING.items():
        for p in sorted((REPO / folder).rglob("*")):
            if p.suffix in suffixes and "__pycache__" not in p.parts:
                yield f"{target}/{p.relative_to(REPO / folder).as_posix()}"


def test_wheel_has_every_module_under_the_namespace(wheel):
    names = set(wheel.namelist())
    missing = [f for f in _source_files({".py"}) if f not in names]
    assert not missing, f"modules dropped from the wheel: {missing}"


def test_wheel_has_the_data_files(wheel):
    names = set(wheel.namelist())
    missing = [f for f in _source_files({".toml", ".json", ".typed", ".png", ".jpg", ".md", ".jinja", ".html"})
               if f not in names and not f.endswith("README.md")]
    assert not missing, f"data files dropped from the wheel: {missing}"
    assert "attribution88/spec.toml" in names and "attribution88/py.typed" in names


def test_wheel_has_no_other_top_level_package(wheel):
    tops = {n.split("/")[0] for n in wheel.namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"attribution88"}


def test_every_installed_module_imports():
    failed, imported = [], set()
    # an editable install maps the sub-packages from other folders: walk each one's own path
    for top in ("attribution88", "attribution88.builders", "attribution88.eval", "attribution88.leaderboard"):
        package = importlib.import_module(top)
        for mod in pkgutil.walk_packages(package.__path__, f"{top}."):
            if mod.name.endswith("__main__") or mod.name in imported:
                continue
            imported.add(mod.name)
            try:
                importlib.import_module(mod.name)
            except Exception as e:  # noqa: BLE001
                failed.append(f"{mod.name}: {type(e).__name__}: {e}")
    assert not failed
    assert len(imported) >= 15


def test_help_lists_commands_without_heavy_imports():
    code = ("import sys, io, contextlib\n"
            "from attribution88.cli import main\n"
            "buf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n"
            "    try: main(['--help'])\n"
            "    except SystemExit: pass\n"
            "heavy = [m for m in ('torch', 'datasets', 'faiss', 'lpips', 'cv2', 'sklearn', 'ray') if m in sys.modules]\n"
            "print(buf.getvalue()); print('HEAVY', heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
    from attribution88.cli import COMMANDS
    assert len(COMMANDS) >= 3
    for name in ("import-release", "verify", "publish"):
        assert f"    {name}" in out


def test_python_started_in_the_checkout_finds_every_subsystem():
    # The checkout's attribution88/ comes first on sys.path there (python -c, python -m, Ray
    # workers); the subsystems beside it must be reachable under the namespace all the same.
    code = ("import attribution88, attribution88.builders.clean, attribution88.eval.metrics, "
            "attribution88.leaderboard.records; "
            "print(attribution88.__file__); print(attribution88.eval.metrics.__file__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert Path(out[0]) == REPO / "attribution88" / "__init__.py"
    assert Path(out[1]) == REPO / "eval" / "metrics.py"
