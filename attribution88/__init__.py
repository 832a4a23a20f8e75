"""attribution88: build, load and score the Attribution88 benchmark of synthetic-image
attribution (RepMix, ECCV 2022).

The core every part imports: the benchmark spec (`attribution88.spec`), image identity and
assignment (`attribution88.ids`), the on-disk format (`attribution88.format`), loading
(`attribution88.loader`), the perturbations (`attribution88.perturb`), errors and the command
line. The build pipeline, the evaluator and the leaderboard live in `attribution88.builders`,
`attribution88.eval` and `attribution88.leaderboard`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]


def _map_checkout_subsystems() -> None:
    """Make `attribution88.builders`, `.eval` and `.leaderboard` importable when this package is
    imported straight from a source checkout.

    pyproject.toml installs the top-level folders `builders/`, `eval/` and `leaderboard/` as
    subpackages. When Python starts in the checkout (`python -m attribution88`, `python -c`, a Ray
    worker that inherits the driver's directory) the checkout's `attribution88/` folder comes first
    on sys.path and shadows the installed package, and the subsystems beside it would be missing.
    This maps exactly those three names to their folders, as the installed layout does; in an
    installed package (no pyproject.toml beside it) it does nothing.
    """
    import importlib.abc
    import importlib.util
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        return
    folders = {f"{__name__}.{name}": root / name for name in ("builders", "eval", "leaderboard")}
    folders = {name: folder for name, folder in folders.items() if (folder / "__init__.py").is_file()}

    class CheckoutSubsystems(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            folder = folders.get(fullname)
            if folder is None:
                return None
            return importlib.util.spec_from_file_location(
                fullname, folder / "__init__.py", submodule_search_locations=[str(folder)])

    if folders and not any(type(f).__name__ == "CheckoutSubsystems" for f in sys.meta_path):
        sys.meta_path.append(CheckoutSubsystems())


_map_checkout_subsystems()
