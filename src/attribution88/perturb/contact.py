"""A contact sheet: one image under all 19 corruptions x 5 severities, in one flavour or in
both side by side, for a human to check that the engine looks like ImageNet-C and to see what
separates the flavours."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..images import as_rgb
from ..spec import SPEC
from .engine import CORRUPTIONS, FLAVOURS, apply, check_seed

LABEL_WIDTH = 190
HEADER_HEIGHT = 34
#: Space between the blocks of two flavours.
GAP = 24


def sample_image() -> np.ndarray:
    """Image 0 of the perturbation oracle (tests/data/oracle/public.npz): the 128 px crop of
    scikit-image's ``astronaut`` photograph at the first corner ``RandomState(0)`` draws,
    resized bilinearly to 224. RGB uint8 (224, 224, 3)."""
    from skimage import data

    photo = data.astronaut()
    rng = np.random.RandomState(0)  # the oracle's crop, from a local generator
    top, left = rng.randint(0, photo.shape[0] - 128), rng.randint(0, photo.shape[1] - 128)
    crop = Image.fromarray(photo[top:top + 128, left:left + 128, :3])
    return np.asarray(crop.resize((224, 224), Image.Resampling.BILINEAR))


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: the bitmap font
        return ImageFont.load_default()


def contact_sheet(image: np.ndarray | Image.Image | None = None, seed: int = 0,
                  flavours: tuple[str, ...] | list[str] | None = None) -> np.ndarray:
    """RGB uint8 sheet: a row per corruption (spec order, name and seen/unseen on the left),
    columns clean, then severities 1..5 of each flavour in ``flavours`` (default both, the
    spec's first; blocks `GAP` px apart, named in the header), each tile at the work size
    (224 x 224; the image is resized to it bilinearly). ``image`` defaults to `sample_image`.
    Every tile of a row uses the same seed."""
    check_seed(seed)
    flavours = [FLAVOURS.get(f).name for f in (flavours or FLAVOURS.names())]
    size = SPEC.protocol.work_size
    x = sample_image() if image is None else as_rgb(image)
    if x.shape[:2] != (size, size):
        x = np.asarray(Image.fromarray(x).resize((size, size), Image.Resampling.BILINEAR))
    names = CORRUPTIONS.names()
    block = len(SPEC.severities) * size
    width = LABEL_WIDTH + size + len(flavours) * (GAP + block)
    header = HEADER_HEIGHT * (2 if len(flavours) > 1 else 1)
    sheet = Image.new("RGB", (width, header + len(names) * size), "white")
    draw = ImageDraw.Draw(sheet)
    font, small = _font(20), _font(15)
    draw.text((LABEL_WIDTH + 8, header - HEADER_HEIGHT + 7), "clean", fill="black", font=font)
    lefts = [LABEL_WIDTH + size + GAP + k * (GAP + block) for k in range(len(flavours))]
    for flavour, left in zip(flavours, lefts):
        if len(flavours) > 1:
            fl = FLAVOURS.get(flavour)
            draw.text((left + 8, 7), f"{flavour} ({fl.channel_order})", fill="black", font=font)
        for c, s in enumerate(SPEC.severities):
            draw.text((left + c * size + 8, header - HEADER_HEIGHT + 7), f"severity {s}", fill="black", font=font)
    for r, name in enumerate(names):
        top = header + r * size
        p = SPEC.perturbation(name)
        draw.text((8, top + size // 2 - 22), f"{p.index} {name}", fill="black", font=small)
        draw.text((8, top + size // 2 + 2), "seen" if p.seen else "unseen (test only)",
                  fill="grey" if p.seen else "firebrick", font=small)
        sheet.paste(Image.fromarray(x), (LABEL_WIDTH, top))
        for flavour, left in zip(flavours, lefts):
            for c, s in enumerate(SPEC.severities):
                sheet.paste(Image.fromarray(apply(x, name, s, seed, flavour)), (left + c * size, top))
    return np.asarray(sheet)
