"""TF-Hub modules (the TF1 hub format of the ProGAN CelebA release, tfhub.dev google/progan-128/1):
recognised and refused in one line that says what the module holds.

The format: a folder with ``tfhub_module.pb`` (the module attachment), ``saved_model.pb`` (the
graph) and ``variables/variables.index`` + ``variables.data-*`` (a ``tf.train.Saver`` bundle,
listed here by `tf_checkpoint` without TensorFlow); tfhub.dev serves it as a ``.tar.gz`` with
``?tf-hub-format=compressed``.

What is published about google/progan-128/1 (tensorflow/hub docs/modules/google/progan-128/1.md,
2018): "Image generator based on tensorflow reimplementation of Progressive GANs"; latent
float32 ``[?, 512]`` drawn from a normal distribution in training; output float32
``[?, 128, 128, 3]`` RGB images; "trained on a GPU for 460,806 steps with batch size 16". The
hub's own tutorial (examples/colab/tf_hub_generative_image_module.ipynb) shows the output as
images in [0, 1] (``plt.imshow``; later ``np.clip(images * 255, 0, 255)``).

What is not: the code that built it. Asked for it, the TF-Hub maintainers answered "there are no
ongoing efforts for open-sourcing of the Progressive GANs code that was used to build the module"
(tensorflow/hub issue #7, April 2018), and no public source found lists the module's variable
names or layer structure. It is a reimplementation, not NVlabs' ``G_paper``, so this package's ProGAN
(NVlabs' network) cannot be assumed to match it, and no mapping of its variables is guessed: the
module is refused, and the refusal lists its variables (names and shapes, read from its index)
so that a mapping can be written from a real module (all of them:
``list_checkpoint(MODULE / "variables" / "variables", "")``).
"""

from __future__ import annotations

from pathlib import Path

from attribution88.errors import CheckpointError

from .tf_checkpoint import list_checkpoint

#: Variables shown in the refusal (the count is always given).
SHOWN = 4

_WHY = ("TF-Hub modules are not converted: the code that built google/progan-128/1 is unpublished "
        "(tensorflow/hub#7), so no mapping of its variables to this package's ProGAN is known; use "
        "--entry-point with TensorFlow")


def is_module(path: Path) -> bool:
    """Whether ``path`` is a TF-Hub module folder."""
    return path.is_dir() and (path / "tfhub_module.pb").is_file()


def refusal(path: Path, what: str) -> CheckpointError:
    """The one-line refusal of the module folder ``path``, naming its variables."""
    try:
        shapes = list_checkpoint(path / "variables" / "variables", what)
    except CheckpointError:
        held = "no readable variables/variables.index"
    else:
        shown = ", ".join(f"{name} {list(shape)}" for name, shape in sorted(shapes.items())[:SHOWN])
        held = f"{len(shapes)} variables: {shown}{', ...' if len(shapes) > SHOWN else ''}"
    return CheckpointError(f"{path}: a TF-Hub module ({held}); {_WHY}; expected {what}")


def archive_refusal(path: Path, what: str) -> CheckpointError:
    """The one-line refusal of a gzip file (tfhub.dev's ``?tf-hub-format=compressed``); nothing in
    it is unpacked."""
    return CheckpointError(f"{path}: a gzip archive (a TF-Hub module as tfhub.dev serves it?), not an official "
                           f"format read here; {_WHY}; expected {what}")
