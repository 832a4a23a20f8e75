"""Packaging: the wheel carries every module and data file of src/attribution88 (setuptools
finds the packages itself; data files must be declared), nothing else at its top level; every
module imports; a folder named attribution88 in the working directory (a local dataset) never
shadows the package."""

import importlib
import pkgutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "src"


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
    for p in sorted((SOURCE / "attribution88").rglob("*")):
        if p.suffix in suffixes and "__pycache__" not in p.parts:
            yield p.relative_to(SOURCE).as_posix()


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
    package = importlib.import_module("attribution88")
    for mod in pkgutil.walk_packages(package.__path__, "attribution88."):
        if mod.name.endswith("__main__"):
            continue
        imported.add(mod.name)
        try:
            importlib.import_module(mod.name)
        except Exception as e:  # noqa: BLE001
            failed.append(f"{mod.name}: {type(e).__name__}: {e}")
    assert not failed
    expected = {p.relative_to(SOURCE).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__")
                for p in (SOURCE / "attribution88").rglob("*.py") if p.stem != "__main__"}
    assert expected - {"attribution88"} <= imported


def test_help_lists_commands_without_heavy_imports():
    code = ("import sys, io, contextlib\n"
            "import attribution88\n"
            "from attribution88.cli import main\n"
            "buf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n"
            "    for argv in (['score', '--help'], ['--help']):\n"
            "        try: main(argv)\n"
            "        except SystemExit: pass\n"
            "heavy = [m for m in ('torch', 'datasets', 'faiss', 'lpips', 'cv2', 'sklearn', 'ray') if m in sys.modules]\n"
            "print(buf.getvalue()); print('HEAVY', heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
    from attribution88.cli import COMMANDS
    assert len(COMMANDS) >= 3
    for name in ("import-release", "verify", "publish"):
        assert f"    {name}" in out


def test_a_dataset_folder_named_attribution88_does_not_shadow_the_package(tmp_path):
    # load_dataset("attribution88") reads a local build from ./attribution88: Python started in
    # that folder's parent must still import the installed package, not a namespace package.
    (tmp_path / "attribution88" / "default").mkdir(parents=True)
    (tmp_path / "attribution88" / "README.md").write_text("a dataset card\n")
    code = ("import attribution88, attribution88.eval.metrics, attribution88.leaderboard.records; "
            "print(attribution88.__file__); print(attribution88.__version__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0].endswith("__init__.py") and not out[0].startswith(str(tmp_path))
    assert out[1] == importlib.import_module("attribution88").__version__


def test_a_command_without_its_extra_stops_before_any_work(monkeypatch, tmp_path, capsys):
    import importlib.metadata as metadata

    from attribution88 import cli

    # the metadata of an install with the core alone: the extras' distributions are absent
    installed = {"numpy", "pillow", "pyarrow"}

    def version(name):
        if name.lower() not in installed:
            raise metadata.PackageNotFoundError(name)
        return "1.0"

    monkeypatch.setattr(metadata, "version", version)
    assert cli.missing_distributions("plots") == ["matplotlib"]
    build = cli.missing_distributions("build")
    assert {"torch", "lpips", "faiss-cpu", "opencv-python", "scipy"} <= set(build)  # perturb's too
    assert "attribution88" not in build and len(build) == len(set(build))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["build"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs the 'build' extra" in err and "torch" in err
    assert not any(tmp_path.iterdir())  # nothing written
    installed |= {"matplotlib"}
    assert cli.missing_distributions("plots") == []
