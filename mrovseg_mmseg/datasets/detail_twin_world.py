"""A generated world whose small objects are named by detail alone.

Classes come in *detail twins*: ``plain red`` and ``checkered red`` share
their mean colour and differ only in a checkerboard. On small objects and
thin bars the checkerboard has a period of two image pixels and is projected
onto the null space of the model's own 2x antialiased downsampling (the
global view of a 64 px scene at a 32 px CLIP input), so the global view of a
small checkered object equals that of a plain one up to rounding and noise,
while the full-resolution slices show the pattern. On large regions the
squares are 4 px wide, which the global view keeps. Two *colour pairs* of
plain materials (``orange`` / ``pink``, ``grey`` / ``purple``) are the
control: they differ in colour, which both views see.

Every scene is 64 x 64: one or two large background regions, up to one large
object, one to three small objects (radius 3-6 px, a fraction of one
16 x 16 px global-view token) and up to two thin bars (2-3 px wide), all of
different classes. Besides the mmseg layout, each scene gets an instance map
and a list of its objects with their kind (``large``, ``small``, ``thin``)::

    <root>/images/{train,val}/00000.png
    <root>/annotations/{train,val}/00000.png   # ids into TWIN_CLASSES
    <root>/instances/{train,val}/00000.png     # object ids, 1..n
    <root>/objects/{train,val}/00000.json      # [{id, class_id, name, kind, area}]

The world's random streams are children of one ``SeedSequence``: training
scenes, held-out scenes, CLIP pretraining pairs and CLIP probe views never
share a stream (:func:`world_streams`).
"""
import functools
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmseg.registry import DATASETS

from .generated import GeneratedSegDataset, write_generated_dataset
from .material_world import caption

WORLD_VERSION = 'detail-twin-world v1'
# every channel of a detail colour lies in [95, 165]: the hidden detail's
# peaks (under 2 x its RMS) plus noise never clip, which would leave a trace
# in the global view
DETAIL_COLOURS = {
    'red': (165, 95, 95),
    'blue': (95, 110, 165),
    'green': (100, 160, 100),
    'yellow': (165, 155, 95),
}
CONTROL_COLOURS = {
    'orange': (205, 125, 50),
    'pink': (205, 115, 160),
    'grey': (125, 125, 125),
    'purple': (125, 80, 170),
}
TWIN_CLASSES: Tuple[str, ...] = tuple(
    f'{finish} {colour}' for colour in DETAIL_COLOURS
    for finish in ('plain', 'checkered')) + tuple(CONTROL_COLOURS)
CHECKERED_CLASSES = tuple(name for name in TWIN_CLASSES
                          if name.startswith('checkered'))
DETAIL_TWIN_CLASSES = TWIN_CLASSES[:2 * len(DETAIL_COLOURS)]
CONTROL_CLASSES = tuple(CONTROL_COLOURS)
# class name -> the class it is confused with when its detail is lost (the
# detail twin) or, for the control classes, its colour pair
TWIN_OF: Dict[str, str] = {}
for _colour in DETAIL_COLOURS:
    TWIN_OF[f'plain {_colour}'] = f'checkered {_colour}'
    TWIN_OF[f'checkered {_colour}'] = f'plain {_colour}'
for _first, _second in (('orange', 'pink'), ('grey', 'purple')):
    TWIN_OF[_first], TWIN_OF[_second] = _second, _first


def _palette_colour(name: str) -> list:
    """Overlay colour: the mean colour; checkered twins darker, so that
    overlays show a plain / checkered confusion."""
    colour = name.split()[-1]
    rgb = DETAIL_COLOURS.get(colour, CONTROL_COLOURS.get(colour))
    shade = 0.5 if name.startswith('checkered') else 1.0
    return [int(round(shade * channel)) for channel in rgb]


TWIN_PALETTE = [_palette_colour(name) for name in TWIN_CLASSES]

KINDS = ('large', 'small', 'thin')
SCENE_SIZE = 64
FINE_AMPLITUDE = 45.0  # RMS of the fine pattern, in pixel levels
COARSE_AMPLITUDE = 45.0
COARSE_SQUARE = 4  # px; the global view keeps 2 px squares
NOISE_STD = 3.0  # on every pixel, so rounding leaves no trace of the detail
SMALL_RADIUS = (3.0, 6.0)
LARGE_RADIUS = (10.0, 16.0)
THIN_WIDTH = (2, 3)
THIN_LENGTH = (12, 28)
MIN_AREA = 6  # px; objects hidden below this are dropped
CAPTION_TEMPLATES = ('a photo of {}.', '{}.', 'a picture with {}.',
                     'there is {} in this image.', 'a pattern of {}.')


def world_streams(seed: int) -> Dict[str, np.random.SeedSequence]:
    """Independent random streams of the world, all from one ``seed``."""
    names = ('train', 'val', 'pretrain', 'probe')
    return dict(zip(names, np.random.SeedSequence(seed).spawn(len(names))))


@functools.lru_cache(maxsize=8)
def downsample_matrix(length: int) -> np.ndarray:
    """(length // 2, length) float64 matrix of the 2x antialiased bilinear
    resize that makes the global view (``F.interpolate(antialias=True)``)."""
    eye = torch.eye(length, dtype=torch.float64)
    # (length, length) rows as images (length, 1, 1, length) -> half width
    rows = F.interpolate(
        eye.view(length, 1, 1, length), size=(1, length // 2),
        mode='bilinear', align_corners=False, antialias=True)
    return rows.view(length, length // 2).t().contiguous().numpy()


def global_view(image: np.ndarray) -> np.ndarray:
    """(H, W, C) image -> (H/2, W/2, C) float64: its global view before
    rounding, exactly as the model's antialiased resize makes it."""
    down_y = downsample_matrix(image.shape[0])
    down_x = downsample_matrix(image.shape[1])
    # (h, H) x (H, W, C) -> (h, W, C); then (h, W, C) x (W, w) -> (h, w, C)
    rows = np.tensordot(down_y, image.astype(np.float64), axes=(1, 0))
    return np.einsum('hwc,xw->hxc', rows, down_x, optimize=True)


def hidden_detail(mask: np.ndarray, amplitude: float) -> np.ndarray:
    """A period-2 checkerboard on ``mask`` that the global view removes.

    The checkerboard is projected onto the null space of the 2x
    downsampling restricted to the mask's pixels (the least change that
    makes its global view exactly zero) and scaled back to RMS
    ``amplitude``.

    Returns:
        (H, W) float64, zero off ``mask``.
    """
    ys, xs = np.nonzero(mask)
    pattern = np.zeros(mask.shape)
    if len(ys) == 0:
        return pattern
    down_y = downsample_matrix(mask.shape[0])
    down_x = downsample_matrix(mask.shape[1])
    checker = np.where((ys + xs) % 2 == 0, 1.0, -1.0)
    # (outputs_y, n) x (outputs_x, n) -> (outputs_y * outputs_x, n)
    operator = np.einsum('yn,xn->yxn', down_y[:, ys],
                         down_x[:, xs]).reshape(-1, len(ys))
    operator = operator[np.abs(operator).sum(axis=1) > 0]
    seen, *_ = np.linalg.lstsq(operator, operator @ checker, rcond=None)
    kept = checker - seen
    rms = np.sqrt(np.mean(kept**2))
    if rms > 1e-6:
        pattern[ys, xs] = kept * (amplitude / rms)
    return pattern


def coarse_checker(shape: Tuple[int, int], amplitude: float,
                   phase: Tuple[int, int]) -> np.ndarray:
    """(H, W) checkerboard of ``COARSE_SQUARE`` px squares, +-amplitude."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    squares = ((yy + phase[0]) // COARSE_SQUARE +
               (xx + phase[1]) // COARSE_SQUARE) % 2
    return np.where(squares == 0, amplitude, -amplitude)


def _blob(rng: np.random.Generator, size: int, radius: float) -> np.ndarray:
    """Boolean (size, size) mask of a rotated, slightly wobbly ellipse."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    cy, cx = rng.uniform(radius * 0.5, size - radius * 0.5, 2)
    angle = rng.uniform(0, np.pi)
    aspect = rng.uniform(0.65, 1.0)
    dy, dx = yy - cy, xx - cx
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / aspect
    wobble = 1 + 0.12 * np.sin(3 * np.arctan2(v, u) + rng.uniform(0, 6.3))
    return np.sqrt(u**2 + v**2) <= radius * wobble


def _bar(rng: np.random.Generator, size: int) -> np.ndarray:
    """Boolean (size, size) mask of a horizontal or vertical thin bar."""
    width = int(rng.integers(THIN_WIDTH[0], THIN_WIDTH[1] + 1))
    length = int(rng.integers(THIN_LENGTH[0], THIN_LENGTH[1] + 1))
    across = int(rng.integers(2, size - width - 2))
    along = int(rng.integers(2, size - length - 2))
    mask = np.zeros((size, size), bool)
    mask[across:across + width, along:along + length] = True
    return mask.T if rng.random() < 0.5 else mask


def _paint(rng: np.random.Generator, name: str, kind: str,
           mask: np.ndarray) -> np.ndarray:
    """(H, W, 3) float64 colour and detail of class ``name`` on ``mask``."""
    colour = name.split()[-1]
    base = np.asarray(DETAIL_COLOURS.get(colour, CONTROL_COLOURS.get(colour)),
                      dtype=np.float64)
    detail = np.zeros(mask.shape)
    if name.startswith('checkered'):
        if kind == 'large':
            detail = coarse_checker(mask.shape, COARSE_AMPLITUDE,
                                    tuple(rng.integers(0, COARSE_SQUARE, 2)))
        else:
            detail = hidden_detail(mask, FINE_AMPLITUDE)
    return base + detail[..., None]


def render_twin_scene(
        rng: np.random.Generator,
        size: int = SCENE_SIZE) -> Tuple[np.ndarray, np.ndarray, dict]:
    """One scene.

    Returns:
        (H, W, 3) uint8 RGB image, (H, W) uint8 ids into ``TWIN_CLASSES``
        and ``{'instances': (H, W) uint8 object ids, 'objects': [{'id',
        'class_id', 'name', 'kind', 'area'}]}``.
    """
    num_background = int(rng.integers(1, 3))
    kinds = (['large'] * num_background + ['large'] * int(rng.integers(0, 2))
             + ['thin'] * int(rng.integers(0, 3)) +
             ['small'] * int(rng.integers(1, 4)))
    names = [TWIN_CLASSES[i] for i in
             rng.permutation(len(TWIN_CLASSES))[:len(kinds)]]
    masks = [np.ones((size, size), bool)]
    if num_background == 2:
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
        if rng.random() < 0.5:
            yy, xx = xx, yy
        edge = size * rng.uniform(0.3, 0.7) + 4 * np.sin(
            xx / 6 + rng.uniform(0, 2 * np.pi))
        masks.append(yy > edge)
    for kind in kinds[len(masks):]:
        if kind == 'large':
            masks.append(_blob(rng, size, rng.uniform(*LARGE_RADIUS)))
        elif kind == 'small':
            masks.append(_blob(rng, size, rng.uniform(*SMALL_RADIUS)))
        else:
            masks.append(_bar(rng, size))
    # objects hidden below MIN_AREA by later ones are dropped
    while True:
        instances = np.zeros((size, size), np.uint8)
        for index, mask in enumerate(masks, start=1):
            instances[mask] = index
        areas = np.bincount(instances.ravel(), minlength=len(masks) + 1)[1:]
        hidden = [i for i in range(1, len(masks)) if areas[i] < MIN_AREA]
        if not hidden:
            break
        del masks[hidden[0]], names[hidden[0]], kinds[hidden[0]]
    image = np.zeros((size, size, 3))
    label = np.zeros((size, size), np.uint8)
    objects = []
    for index, (name, kind) in enumerate(zip(names, kinds), start=1):
        visible = instances == index
        image[visible] = _paint(rng, name, kind, visible)[visible]
        label[visible] = TWIN_CLASSES.index(name)
        objects.append(
            dict(id=index, class_id=TWIN_CLASSES.index(name), name=name,
                 kind=kind, area=int(areas[index - 1])))
    image += rng.normal(0, NOISE_STD, image.shape)
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    return image, label, dict(instances=instances, objects=objects)


def name_for_view(name: str, kind: str, whole_scene: bool) -> str:
    """What a view shows of an object: a checkered small object or thin bar
    seen in the downsampled whole scene shows as its plain twin."""
    if whole_scene and kind != 'large' and name.startswith('checkered'):
        return TWIN_OF[name]
    return name


def twin_caption_pair(rng: np.random.Generator, view_size: int,
                      min_fraction: float = 0.03) -> Tuple[np.ndarray, str]:
    """One CLIP pretraining pair: a view of a scene and a caption.

    The view is the whole 2 x ``view_size`` scene at the global view's
    resolution or a ``view_size`` crop at full resolution (the two ways
    MROVSeg shows an image to its CLIP). The caption names what the view
    shows of every object covering ``min_fraction`` of it.
    """
    image, _, extra = render_twin_scene(rng, 2 * view_size)
    instances = extra['instances']
    whole = bool(rng.random() < 0.5)
    if whole:
        view = np.clip(np.round(global_view(image)), 0, 255).astype(np.uint8)
        shown = instances
    else:
        top, left = rng.integers(0, view_size + 1, 2)
        view = image[top:top + view_size, left:left + view_size]
        shown = instances[top:top + view_size, left:left + view_size]
    names: List[str] = []
    for obj in extra['objects']:
        if (shown == obj['id']).mean() >= min_fraction:
            name = name_for_view(TWIN_CLASSES[obj['class_id']], obj['kind'],
                                 whole)
            if name not in names:
                names.append(name)
    return view, caption(rng, names, CAPTION_TEMPLATES)


def twin_probe_views(rng: np.random.Generator, view_size: int,
                     per_class: int) -> Tuple[np.ndarray, np.ndarray]:
    """Single-class full-resolution views with their labels: half with the
    fine (period-2) detail of small objects, half with large regions'."""
    views, labels = [], []
    mask = np.ones((view_size, view_size), bool)
    for label, name in enumerate(TWIN_CLASSES):
        for index in range(per_class):
            kind = 'small' if index % 2 else 'large'
            view = _paint(rng, name, kind, mask)
            view = view + rng.normal(0, NOISE_STD, view.shape)
            views.append(np.clip(np.round(view), 0, 255).astype(np.uint8))
            labels.append(label)
    return np.stack(views), np.asarray(labels)


def generate_detail_twin_world(root: str,
                               *,
                               num_train: int = 400,
                               num_val: int = 100,
                               image_size: int = SCENE_SIZE,
                               seed: int = 0) -> str:
    """Write the dataset under ``root`` unless it is already complete."""
    streams = world_streams(seed)

    def render(rng):
        return render_twin_scene(rng, image_size)

    return write_generated_dataset(
        root, [('train', num_train, render), ('val', num_val, render)],
        [streams['train'], streams['val']], {
            'classes.txt': TWIN_CLASSES,
            'version.txt': [WORLD_VERSION]
        })


@DATASETS.register_module()
class DetailTwinWorldDataset(GeneratedSegDataset):
    """Scenes of detail twins and colour pairs; generated on first use.

    Config keys ``generate``, ``num_train``, ``num_val``, ``image_size`` and
    ``seed`` go to :func:`generate_detail_twin_world`.
    """
    METAINFO = dict(classes=TWIN_CLASSES, palette=TWIN_PALETTE)
    generate = staticmethod(generate_detail_twin_world)
