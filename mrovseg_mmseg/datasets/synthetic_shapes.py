"""A small synthetic open-vocabulary dataset of textured shapes.

Each image shows a textured background class with a few textured shapes on
it; the label map names every pixel's class. The images are generated on first
use (deterministically from a seed) in the standard mmseg layout, so the whole
pipeline (training, mIoU, visualization) runs without downloading anything::

    <root>/images/{train,val}/00000.png
    <root>/annotations/{train,val}/00000.png
"""
from typing import Tuple

import numpy as np
from mmseg.registry import DATASETS

from .generated import GeneratedSegDataset, write_generated_dataset

SHAPE_CLASSES = ('grass', 'sand', 'red disc', 'blue square',
                 'yellow triangle', 'striped ring')
SHAPE_PALETTE = [[60, 160, 60], [220, 200, 140], [220, 40, 40],
                 [40, 70, 220], [240, 220, 30], [140, 60, 180]]


def _texture(rng: np.random.Generator, size: int, colour, kind: str):
    """(size, size, 3) uint8 texture around ``colour``."""
    yy, xx = np.mgrid[0:size, 0:size]
    base = np.asarray(colour, dtype=np.float32)
    noise = rng.normal(0, 18, (size, size, 1)).astype(np.float32)
    if kind == 'stripes':
        phase = rng.uniform(0, 2 * np.pi)
        wave = 40 * np.sin((xx + yy) / 2.0 + phase)[..., None]
    elif kind == 'blotches':
        wave = 25 * np.sin(xx / 5.0 + rng.uniform(0, 6))[..., None] * np.cos(
            yy / 7.0 + rng.uniform(0, 6))[..., None]
    else:
        wave = 0
    return np.clip(base + noise + wave, 0, 255).astype(np.uint8)


def _shape_mask(rng: np.random.Generator, size: int, label: int):
    """Boolean mask of one shape of class ``label`` at a random place."""
    yy, xx = np.mgrid[0:size, 0:size]
    radius = rng.uniform(0.12, 0.22) * size
    cy, cx = rng.uniform(radius, size - radius, 2)
    name = SHAPE_CLASSES[label]
    if name == 'red disc':
        return (yy - cy)**2 + (xx - cx)**2 <= radius**2
    if name == 'blue square':
        return (abs(yy - cy) <= radius) & (abs(xx - cx) <= radius)
    if name == 'yellow triangle':
        return (yy - cy + radius >= 2 * abs(xx - cx)) & (yy - cy <= radius)
    dist = np.sqrt((yy - cy)**2 + (xx - cx)**2)
    return (dist <= radius) & (dist >= 0.5 * radius)


def render_sample(rng: np.random.Generator,
                  size: int) -> Tuple[np.ndarray, np.ndarray]:
    """One (H, W, 3) RGB image and its (H, W) uint8 label map."""
    background = int(rng.integers(0, 2))
    label = np.full((size, size), background, dtype=np.uint8)
    kinds = ['blotches', 'plain', 'plain', 'plain', 'plain', 'stripes']
    image = _texture(rng, size, SHAPE_PALETTE[background], kinds[background])
    for shape in rng.choice(np.arange(2, len(SHAPE_CLASSES)),
                            size=int(rng.integers(1, 4)), replace=False):
        mask = _shape_mask(rng, size, int(shape))
        texture = _texture(rng, size, SHAPE_PALETTE[shape], kinds[shape])
        image[mask] = texture[mask]
        label[mask] = shape
    return image, label


def generate_synthetic_shapes(root: str,
                              *,
                              num_train: int = 240,
                              num_val: int = 40,
                              image_size: int = 64,
                              seed: int = 0) -> str:
    """Write the dataset under ``root`` unless it is already complete."""
    return write_generated_dataset(
        root, [('train', num_train, lambda rng: render_sample(rng, image_size)),
               ('val', num_val, lambda rng: render_sample(rng, image_size))],
        seed, {'classes.txt': SHAPE_CLASSES})


@DATASETS.register_module()
class SyntheticShapesDataset(GeneratedSegDataset):
    """Textured shapes with class names as text; generated on first use.

    Config keys ``generate``, ``num_train``, ``num_val``, ``image_size`` and
    ``seed`` go to :func:`generate_synthetic_shapes`.
    """
    METAINFO = dict(classes=SHAPE_CLASSES, palette=SHAPE_PALETTE)
    generate = staticmethod(generate_synthetic_shapes)
