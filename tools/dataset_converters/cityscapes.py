"""Prepare Cityscapes (19 classes) for ``CityscapesOVDataset``.

Input, from the official archives unzipped into ROOT::

    ROOT/leftImg8bit/{train,val}/<city>/<name>_leftImg8bit.png
                                              # leftImg8bit_trainvaltest.zip
    ROOT/gtFine/{train,val}/<city>/<name>_gtFine_labelIds.png
    ROOT/gtFine/{train,val}/<city>/<name>_gtFine_polygons.json
                                              # gtFine_trainvaltest.zip

Output, next to them: ``<name>_gtFine_labelTrainIds.png`` (uint8 train ids
0..18, 255 = not evaluated). It is mapped from ``*_labelIds.png`` when
present, else drawn from ``*_polygons.json`` the way the official
``cityscapesscripts`` do (polygons in file order, deleted ones skipped,
``...group`` labels as their class, the license plate never drawn).

    python tools/dataset_converters/cityscapes.py data/cityscapes
"""
import argparse
import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from _common import (PreparationError, add_nproc_argument, check_values,
                     lookup_table, map_with_progress, read_single_channel,
                     require_dir, run, save_label)
from PIL import Image, ImageDraw

from mrovseg_mmseg.datasets.cityscapes import CITYSCAPES_LABELS

IMAGE_ARCHIVE = 'leftImg8bit_trainvaltest.zip'
LABEL_ARCHIVE = 'gtFine_trainvaltest.zip'
SPLITS = ('train', 'val')
IMAGE_SUFFIX = '_leftImg8bit.png'
IGNORE = 255

LABEL_BY_NAME = {label.name: label for label in CITYSCAPES_LABELS}
DRAWN_LABELS = [label for label in CITYSCAPES_LABELS if label.id >= 0]
ID_TO_TRAIN_ID = lookup_table(
    {label.id: label.train_id
     for label in DRAWN_LABELS},
    256,
    IGNORE,
    dtype=np.uint8)
VALID_IDS = np.array([label.id for label in DRAWN_LABELS])


def from_label_ids(path: Path) -> np.ndarray:
    """Train ids from an official ``*_gtFine_labelIds.png``."""
    ids = read_single_channel(path)
    check_values(path, ids, VALID_IDS,
                 f'the Cityscapes label ids 0..{VALID_IDS.max()}')
    return ID_TO_TRAIN_ID[ids]


def from_polygons(path: Path) -> np.ndarray:
    """Train ids drawn from an official ``*_gtFine_polygons.json``."""
    try:
        annotation = json.loads(path.read_text())
        size = (int(annotation['imgWidth']), int(annotation['imgHeight']))
        objects = annotation['objects']
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise PreparationError(
            f'cannot read polygon file {path}: {err!r}') from err
    canvas = Image.new('L', size, IGNORE)
    drawer = ImageDraw.Draw(canvas)
    for number, obj in enumerate(objects):
        if obj.get('deleted'):
            continue
        name = obj['label']
        if name not in LABEL_BY_NAME and name.endswith('group'):
            name = name[:-len('group')]
        if name not in LABEL_BY_NAME:
            raise PreparationError(
                f'polygon file {path}: object {number} has the unknown label '
                f'{obj["label"]!r}')
        label = LABEL_BY_NAME[name]
        if label.id < 0:
            continue
        points = [tuple(point) for point in obj['polygon']]
        drawer.polygon(points, fill=label.train_id, outline=label.train_id)
    return np.asarray(canvas)


def convert(image_path: Path) -> None:
    """Write the train-id map of one image, from label ids or polygons."""
    stem = image_path.name[:-len(IMAGE_SUFFIX)]
    split_dir = image_path.parent.parent
    gt_dir = split_dir.parent.parent / 'gtFine' / split_dir.name / \
        image_path.parent.name
    label_ids = gt_dir / f'{stem}_gtFine_labelIds.png'
    polygons = gt_dir / f'{stem}_gtFine_polygons.json'
    if label_ids.is_file():
        train_ids = from_label_ids(label_ids)
    elif polygons.is_file():
        train_ids = from_polygons(polygons)
    else:
        raise PreparationError(
            f'missing label file {label_ids} (or {polygons.name}) for image '
            f'{image_path} (expected from {LABEL_ARCHIVE})')
    save_label(gt_dir / f'{stem}_gtFine_labelTrainIds.png', train_ids)


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write Cityscapes train-id label maps '
        '(*_gtFine_labelTrainIds.png) into the official gtFine folders.')
    parser.add_argument('root', type=Path, help='e.g. data/cityscapes')
    parser.add_argument(
        '--splits',
        nargs='+',
        choices=SPLITS,
        default=['val'],
        help='splits to convert (default: val, the zero-shot benchmark)')
    add_nproc_argument(parser)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    for split in args.splits:
        image_dir = require_dir(args.root / 'leftImg8bit' / split,
                                IMAGE_ARCHIVE)
        require_dir(args.root / 'gtFine' / split, LABEL_ARCHIVE)
        images = sorted(image_dir.glob(f'*/*{IMAGE_SUFFIX}'))
        if not images:
            raise PreparationError(f'no <city>/*{IMAGE_SUFFIX} image in '
                                   f'{image_dir} (expected from '
                                   f'{IMAGE_ARCHIVE})')
        map_with_progress(
            convert, images, nproc=args.nproc, desc=f'Cityscapes {split}')
        print(f'{split}: wrote {len(images)} *_gtFine_labelTrainIds.png '
              f'under {args.root / "gtFine" / split}')
    return 0


if __name__ == '__main__':
    run(main)
