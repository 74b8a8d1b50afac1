"""A generated open-vocabulary world of named materials.

Scenes are made of regions of twelve materials, each a single visual concept
(one colour with one texture): one or two large background regions, large
objects, and small objects a few pixels across. Captions name the materials a
view shows, in several phrasings, so a CLIP can be pretrained on them
(``tools/pretrain_clip.py``). Segmentation training only ever sees the
*seen* materials; the *unseen* ones appear in the held-out scenes alone, so
naming them has to come from the CLIP's knowledge. The dataset is written in
the standard mmseg layout on first use::

    <root>/images/{train,val}/00000.png
    <root>/annotations/{train,val}/00000.png    # ids into MATERIAL_CLASSES
"""
from typing import Sequence, Tuple

import numpy as np
from mmseg.registry import DATASETS
from PIL import Image

from .generated import GeneratedSegDataset, write_generated_dataset

# name: (RGB colour, texture)
MATERIALS = {
    'grass': ((70, 150, 50), 'blotches'),
    'sand': ((225, 200, 140), 'grain'),
    'water': ((40, 90, 200), 'waves'),
    'brick': ((180, 50, 50), 'bricks'),
    'snow': ((240, 240, 245), 'smooth'),
    'asphalt': ((60, 60, 65), 'grain'),
    'lava': ((250, 130, 0), 'blotches'),
    'heather': ((150, 90, 180), 'grain'),
    'wood': ((120, 80, 40), 'stripes'),
    'ice': ((160, 220, 235), 'smooth'),
    'coral': ((250, 120, 150), 'blotches'),
    'moss': ((150, 170, 40), 'grain'),
}
MATERIAL_CLASSES: Tuple[str, ...] = tuple(MATERIALS)
MATERIAL_PALETTE = [list(colour) for colour, _ in MATERIALS.values()]
# Every third material is held out of segmentation training; the split was
# fixed with the world, before any model was trained on it.
UNSEEN_CLASSES: Tuple[str, ...] = MATERIAL_CLASSES[2::3]
SEEN_CLASSES: Tuple[str, ...] = tuple(
    name for name in MATERIAL_CLASSES if name not in UNSEEN_CLASSES)

CAPTION_TEMPLATES = ('a photo of a {}.', 'a photo of {}.', '{}.',
                     'a picture with {}.', 'there is {} in this image.',
                     'a scene of {}.', '{} seen from above.')
SMALL_RADIUS = (3.0, 6.0)  # image pixels at the 64 px scene size
LARGE_RADIUS = (10.0, 18.0)


def material_texture(rng: np.random.Generator, name: str,
                     shape: Tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 patch of material ``name`` (its colour and texture)."""
    colour, kind = MATERIALS[name]
    height, width = shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.asarray(colour, dtype=np.float32)
    noise = rng.normal(0, 8, (height, width, 1)).astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, 2).astype(np.float32)
    if kind == 'blotches':
        shade = 28 * np.sin(xx / 4.0 + phase[0]) * np.cos(yy / 5.0 + phase[1])
    elif kind == 'grain':
        shade = rng.normal(0, 22, (height, width)).astype(np.float32)
    elif kind == 'waves':
        shade = 35 * np.sin(yy / 1.5 + 0.6 * np.sin(xx / 5.0) + phase[0])
    elif kind == 'bricks':
        row = np.floor((yy + phase[0]) / 6.0)
        joint = ((xx + 4 * (row % 2) + phase[1]) % 8.0) < 1.0
        mortar = (((yy + phase[0]) % 6.0) < 1.0) | joint
        shade = np.where(mortar, 60.0, 0.0).astype(np.float32)
    elif kind == 'stripes':
        shade = 30 * np.sin(xx / 1.2 + 0.8 * np.sin(yy / 6.0) + phase[0])
    else:
        shade = np.zeros((height, width), np.float32)
    return np.clip(base + noise + shade[..., None], 0, 255).astype(np.uint8)


def _blob(rng: np.random.Generator, size: int, radius: float) -> np.ndarray:
    """Boolean (size, size) mask of a rotated, wobbly ellipse."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cy, cx = rng.uniform(radius * 0.5, size - radius * 0.5, 2)
    angle = rng.uniform(0, np.pi)
    aspect = rng.uniform(0.6, 1.0)
    dy, dx = yy - cy, xx - cx
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / aspect
    theta = np.arctan2(v, u)
    wobble = 1 + 0.15 * np.sin(3 * theta + rng.uniform(0, 2 * np.pi))
    return np.sqrt(u**2 + v**2) <= radius * wobble


def render_scene(rng: np.random.Generator, size: int,
                 classes: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """One scene of materials drawn from ``classes``, all different.

    Returns:
        (H, W, 3) uint8 RGB image and (H, W) uint8 ids into
        ``MATERIAL_CLASSES``.
    """
    scale = size / 64.0
    num_background = int(rng.integers(1, 3))
    num_large = int(rng.integers(0, 3))
    num_small = int(rng.integers(1, 4))
    total = min(len(classes), num_background + num_large + num_small)
    names = [classes[i] for i in rng.permutation(len(classes))[:total]]
    ids = [MATERIAL_CLASSES.index(name) for name in names]
    image = np.zeros((size, size, 3), np.uint8)
    label = np.zeros((size, size), np.uint8)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    regions = [np.ones((size, size), bool)]
    if num_background == 2 and total >= 2:
        if rng.random() < 0.5:
            yy, xx = xx, yy
        edge = size * rng.uniform(0.3, 0.7) + 4 * scale * np.sin(
            xx / (6 * scale) + rng.uniform(0, 2 * np.pi))
        regions.append(yy > edge)
    radii = [LARGE_RADIUS] * num_large + [SMALL_RADIUS] * num_small
    for low, high in radii[:total - len(regions)]:
        regions.append(_blob(rng, size, rng.uniform(low, high) * scale))
    for name, index, region in zip(names, ids, regions):
        image[region] = material_texture(rng, name, (size, size))[region]
        label[region] = index
    return image, label


def downsample(image: np.ndarray, size: int) -> np.ndarray:
    """Antialiased resize of an (H, W, 3) uint8 image to (size, size)."""
    return np.asarray(
        Image.fromarray(image).resize((size, size), Image.BILINEAR,
                                      reducing_gap=None))


def caption(rng: np.random.Generator,
            names: Sequence[str],
            templates: Sequence[str] = CAPTION_TEMPLATES) -> str:
    """A caption naming ``names`` in random order with a random phrasing
    from ``templates``."""
    names = [names[i] for i in rng.permutation(len(names))]
    listed = names[0] if len(names) == 1 else (
        ', '.join(names[:-1]) + ' and ' + names[-1])
    template = templates[int(rng.integers(len(templates)))]
    return template.format(listed)


def caption_pair(rng: np.random.Generator, view_size: int,
                 min_fraction: float = 0.03) -> Tuple[np.ndarray, str]:
    """One CLIP pretraining pair: a view of a scene and a caption naming it.

    The view is either a whole scene at twice ``view_size`` resized to
    ``view_size`` or a ``view_size`` crop of it at full resolution: the two
    scales at which MROVSeg shows images to its CLIP. Every material covering
    at least ``min_fraction`` of the view is named.
    """
    image, label = render_scene(rng, 2 * view_size, MATERIAL_CLASSES)
    if rng.random() < 0.5:
        view = downsample(image, view_size)
        label = label[::2, ::2]
    else:
        top, left = rng.integers(0, view_size + 1, 2)
        view = image[top:top + view_size, left:left + view_size]
        label = label[top:top + view_size, left:left + view_size]
    counts = np.bincount(label.ravel(), minlength=len(MATERIAL_CLASSES))
    present = [
        MATERIAL_CLASSES[i] for i in np.flatnonzero(
            counts >= min_fraction * label.size)
    ]
    return view, caption(rng, present)


def generate_material_world(root: str,
                            *,
                            num_train: int = 400,
                            num_val: int = 80,
                            image_size: int = 64,
                            seed: int = 0) -> str:
    """Write the dataset under ``root`` unless it is already complete.

    Training scenes hold only ``SEEN_CLASSES``; held-out scenes draw from all
    materials.
    """
    return write_generated_dataset(
        root,
        [('train', num_train,
          lambda rng: render_scene(rng, image_size, SEEN_CLASSES)),
         ('val', num_val,
          lambda rng: render_scene(rng, image_size, MATERIAL_CLASSES))],
        seed, {
            'classes.txt': MATERIAL_CLASSES,
            'unseen_classes.txt': UNSEEN_CLASSES
        })


@DATASETS.register_module()
class MaterialWorldDataset(GeneratedSegDataset):
    """Scenes of named materials; generated on first use.

    Set ``metainfo=dict(classes=SEEN_CLASSES)`` for segmentation training:
    mmseg then maps the annotation ids onto the seen classes' order (the
    training scenes hold no other material). Config keys ``generate``,
    ``num_train``, ``num_val``, ``image_size`` and ``seed`` go to
    :func:`generate_material_world`.
    """
    METAINFO = dict(classes=MATERIAL_CLASSES, palette=MATERIAL_PALETTE)
    generate = staticmethod(generate_material_world)
