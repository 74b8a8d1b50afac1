"""What the web demo's page shows, as plain functions (no gradio here).

The class box holds one class per line with synonyms comma-separated, the
format of ``tools/infer.py --classes-file`` (``#`` starts a comment). Results
are shown at most ``max_side`` pixels on their longer side; the label map PNG
offered for download always has the image's full size.
"""
import html
import os
import re
from typing import Collection, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

from ..apis.image_io import load_image
from ..apis.inferencer import ClassFound
from ..apis.proposals import Proposal
from ..datasets import (ADE150Dataset, ADE847Dataset, CityscapesOVDataset,
                        COCOStuff171Dataset, PascalContext59Dataset,
                        PascalContext459Dataset, PascalVOC20Dataset)
from ..datasets.material_world import MATERIAL_CLASSES
from ..datasets.synthetic_shapes import SHAPE_CLASSES, render_sample
from ..models.text_encoders.vocabulary import _parse_entries

PRESETS = {
    'synthetic shapes (6, the shapes demo)': SHAPE_CLASSES,
    'material world (12, the zero-shot demo)': MATERIAL_CLASSES,
    'COCO-Stuff (171)': COCOStuff171Dataset.METAINFO['classes'],
    'ADE20K (150)': ADE150Dataset.METAINFO['classes'],
    'ADE20K-full (847)': ADE847Dataset.METAINFO['classes'],
    'PASCAL Context (59)': PascalContext59Dataset.METAINFO['classes'],
    'PASCAL Context (459)': PascalContext459Dataset.METAINFO['classes'],
    'PASCAL VOC (20)': PascalVOC20Dataset.METAINFO['classes'],
    'Cityscapes (19)': CityscapesOVDataset.METAINFO['classes'],
}


class PageInputError(ValueError):
    """Input the page refuses, with the message shown to the user."""


def parse_class_text(text: Optional[str]) -> List[str]:
    """The class names in the class box, one per line.

    Raises:
        PageInputError: no class, a blank synonym or a duplicate class,
            naming the line.
    """
    entries = []
    for number, line in enumerate((text or '').split('\n'), start=1):
        name = line.split('#', 1)[0].strip()
        if name:
            entries.append((f'line {number}', name))
    try:
        _parse_entries(
            entries,
            empty_message='no class name: type at least one, one per line '
            "(synonyms comma-separated: 'sofa, couch'), or pick a preset")
    except ValueError as err:
        raise PageInputError(f'class names: {err}') from err
    return [name for _, name in entries]


def class_text(classes: Sequence[str]) -> str:
    """The class box's text for a vocabulary (inverse of parse_class_text)."""
    return '\n'.join(classes)


def read_image(path: Optional[str], name: str, *,
               max_pixels: int) -> np.ndarray:
    """Read an uploaded file as (H, W, 3) uint8 RGB.

    Args:
        path: the uploaded file; None when nothing was uploaded.
        name: the file's name on the user's machine, used in messages.
        max_pixels: larger images are refused.

    Raises:
        PageInputError: no image, a file that is not a readable image, or
            one larger than ``max_pixels``.
    """
    if not path:
        raise PageInputError('no image: upload one, paste one or pick an '
                             'example')
    limit = (f'this page takes images of up to {max_pixels / 1e6:g} MP: '
             'make it smaller, or segment it with tools/infer.py')
    try:
        with Image.open(path) as image:
            width, height = image.size
    except Image.DecompressionBombError as err:
        raise PageInputError(
            f'{name!r} is too large ({err}); {limit}') from err
    except Exception:  # load_image names the problem below
        width = height = 0
    if width * height > max_pixels:
        raise PageInputError(f'{name!r} is {width}x{height} pixels '
                             f'({width * height / 1e6:.1f} MP); {limit}')
    try:
        return load_image(path)
    except ValueError as err:
        raise PageInputError(str(err).replace(repr(path), repr(name))) from err


def fit_for_display(image: np.ndarray, label_map: np.ndarray, *,
                    max_side: int) -> Tuple[np.ndarray, np.ndarray, bool]:
    """Image (area) and label map (nearest) shrunk to ``max_side``.

    Args:
        image: (H, W, 3) uint8 RGB.
        label_map: (H, W) class ids.

    Returns:
        The pair, at most ``max_side`` pixels on the longer side, and whether
        they were shrunk.
    """
    scale = max_side / max(image.shape[:2])
    if scale >= 1:
        return image, label_map, False
    size = (max(1, round(image.shape[1] * scale)),
            max(1, round(image.shape[0] * scale)))  # (w, h)
    return (cv2.resize(image, size, interpolation=cv2.INTER_AREA),
            cv2.resize(label_map, size, interpolation=cv2.INTER_NEAREST),
            True)


def colour_labels(label_map: np.ndarray,
                  palette: Sequence[Sequence[int]]) -> np.ndarray:
    """(H, W) class ids -> (H, W, 3) uint8 RGB in the palette's colours."""
    return np.asarray(palette, dtype=np.uint8)[label_map]


def draw_views(image: np.ndarray, label_map: np.ndarray,
               palette: Sequence[Sequence[int]], *,
               alpha: float = 0.5) -> Tuple[np.ndarray, np.ndarray]:
    """The overlay (class colours blended over the image) and the label map
    in class colours, both (H, W, 3) uint8 RGB; the legend is a table."""
    colours = colour_labels(label_map, palette)
    overlay = (1 - alpha) * image.astype(np.float32) + alpha * colours
    return np.rint(overlay).astype(np.uint8), colours


def format_area(area: float) -> str:
    """Pixel fraction as a percentage: '41.3%', '<0.1%'."""
    return f'{100 * area:.1f}%' if area >= 0.0005 else '<0.1%'


def legend_html(found: Sequence[ClassFound],
                palette: Sequence[Sequence[int]],
                *,
                unseen: Optional[Collection[str]] = None,
                chance: bool = False) -> str:
    """A table of the classes found: colour, name, id, area, mean score.

    Args:
        unseen: the names segmentation training never saw; given, a column
            says for each class whether training saw it. None = no column.
        chance: mark the unseen names as chance (a CLIP never pretrained).
    """
    rows = []
    for item in found:
        red, green, blue = palette[item.index]
        training = ''
        if unseen is not None:
            seen = item.name not in unseen
            text = 'yes' if seen else ('no (chance)' if chance else 'no')
            training = (f'<td class="training {"seen" if seen else "unseen"}"'
                        f'>{text}</td>')
        rows.append(
            f'<tr data-class-id="{item.index}">'
            f'<td><span class="swatch" style="background: rgb({red}, '
            f'{green}, {blue})"></span></td>'
            f'<td class="name">{html.escape(item.name)}</td>'
            f'<td class="id">{item.index}</td>'
            f'<td class="area">{html.escape(format_area(item.area))}</td>'
            f'<td class="score">{item.score:.2f}</td>{training}</tr>')
    training_head = '' if unseen is None else '<th>in training</th>'
    return ('<table class="mrovseg-legend"><thead><tr><th></th><th>class</th>'
            f'<th>id</th><th>area</th><th>score</th>{training_head}</tr>'
            '</thead><tbody>' + ''.join(rows) + '</tbody></table>')


def proposals_html(proposals: Sequence[Proposal],
                   palette: Sequence[Sequence[int]]) -> str:
    """A table of mask proposals: colour and name of the best class, its
    probability, the no-object probability, the share of the label map's
    winning score and the mask's area."""
    rows = []
    for item in proposals:
        red, green, blue = palette[item.class_index]
        rows.append(
            f'<tr data-proposal="{item.index}">'
            f'<td><span class="swatch" style="background: rgb({red}, '
            f'{green}, {blue})"></span></td>'
            f'<td class="id">{item.index}</td>'
            f'<td class="name">{html.escape(item.class_name)}</td>'
            f'<td class="score">{item.score:.2f}</td>'
            f'<td class="score">{item.no_object:.2f}</td>'
            f'<td class="area">{html.escape(format_area(item.contribution))}'
            '</td>'
            f'<td class="area">{html.escape(format_area(item.area))}</td>'
            '</tr>')
    return ('<table class="mrovseg-legend mrovseg-proposals"><thead><tr>'
            '<th></th><th>proposal</th><th>best class</th><th>p</th>'
            '<th>no object</th><th>share</th><th>mask</th></tr></thead>'
            '<tbody>' + ''.join(rows) + '</tbody></table>')


PROPOSALS_NOTE = (
    'The mask proposals that contribute most to the label map. A '
    'proposal\'s share is its part of the label map\'s winning score (Eq. 9 '
    'sums class probability x mask sigmoid over the proposals); p is the '
    'probability of its best class, mask the area where its sigmoid is '
    'above 0.5.')


def status_html(message: str, *, error: bool = False) -> str:
    """The status line above the results (escaped)."""
    kind = 'error' if error else 'ok'
    prefix = '<b>Cannot segment:</b> ' if error else ''
    return (f'<div class="mrovseg-status {kind}">{prefix}'
            f'{html.escape(message)}</div>')


def summary_text(*, name: str, size: Tuple[int, int], num_found: int,
                 num_classes: int, seconds: float,
                 shown: Optional[Tuple[int, int]]) -> str:
    """What was done, e.g. '3 of 6 classes found in 'a.png' (640x480) ...'.

    Args:
        size: (H, W) of the image.
        shown: (H, W) the results are displayed at, if shrunk.
    """
    text = (f'{num_found} of {num_classes} classes found in {name!r} '
            f'({size[1]}x{size[0]} pixels) in {seconds:.1f} s.')
    if shown is not None:
        text += (f' The image was downsized for display to {shown[1]}x'
                 f'{shown[0]}; the label map PNG has the full '
                 f'{size[1]}x{size[0]}.')
    return text


def safe_stem(name: str) -> str:
    """A file stem from an uploaded file's name: letters, digits, . - _."""
    stem = os.path.splitext(os.path.basename(name))[0]
    return re.sub(r'[^\w.-]+', '_', stem).strip('._')[:60] or 'image'


def write_label_png(label_map: np.ndarray, path: str) -> None:
    """Save class ids losslessly: 8-bit PNG, 16-bit for uint16 label maps."""
    if label_map.dtype not in (np.uint8, np.uint16):
        raise ValueError(f'label map of dtype {label_map.dtype}: expected '
                         'uint8 or uint16')
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    if not cv2.imwrite(path, np.ascontiguousarray(label_map)):
        raise OSError(f'could not write {path!r}')


def write_examples(folder: str, *, count: int = 3,
                   size: int = 64, zoom: int = 4) -> List[str]:
    """Synthetic-shape images for the example list, as PNG files.

    Drawn as the demo dataset draws them (``size`` pixels) and enlarged
    ``zoom`` times (nearest), so the demo model sees its training scale.
    """
    os.makedirs(folder, exist_ok=True)
    paths = []
    rng = np.random.default_rng(2024)
    for index in range(count):
        image, _ = render_sample(rng, size)
        image = np.repeat(np.repeat(image, zoom, axis=0), zoom, axis=1)
        path = os.path.join(folder, f'shapes_{index + 1}.png')
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def write_held_out_examples(image_dir: str,
                            label_dir: str,
                            classes: Sequence[str],
                            unseen: Collection[str],
                            folder: str,
                            *,
                            count: int = 4,
                            min_share: float = 0.2,
                            zoom: int = 4) -> List[str]:
    """Held-out scenes of a generated dataset for the example list.

    The scenes (in file order) where a name in ``unseen`` covers at least
    ``min_share`` of the label map come first, so the examples show open
    vocabulary at work; the other scenes fill up to ``count``. Each is
    enlarged ``zoom`` times (nearest) and written as
    ``held_out_<its file stem>.png``.

    Args:
        image_dir, label_dir: the split's images and label maps (same file
            names; label ids index ``classes``).
        classes: the dataset's classes.
        unseen: the names segmentation training never saw.
    """
    names = sorted(name for name in os.listdir(image_dir)
                   if name.endswith('.png'))
    unseen_ids = [index for index, name in enumerate(classes)
                  if name in unseen]
    showing, others = [], []
    for name in names:
        labels = np.asarray(Image.open(os.path.join(label_dir, name)))
        share = np.isin(labels, unseen_ids).mean() if unseen_ids else 0.0
        (showing if share >= min_share else others).append(name)
        if len(showing) >= count:
            break
    os.makedirs(folder, exist_ok=True)
    paths = []
    for name in (showing + others)[:count]:
        image = np.asarray(
            Image.open(os.path.join(image_dir, name)).convert('RGB'))
        image = np.repeat(np.repeat(image, zoom, axis=0), zoom, axis=1)
        path = os.path.join(folder, f'held_out_{name}')
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths
