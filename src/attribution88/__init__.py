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

