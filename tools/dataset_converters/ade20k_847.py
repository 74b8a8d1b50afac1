"""Prepare ADE-847 from the ADE20K full release for ``ADE847Dataset``.

Input: the ``ADE20K_2021_17_01`` release (registration at
https://groups.csail.mit.edu/vision/datasets/ADE20K/) unzipped, ROOT being
its top folder::

    ROOT/index_ade20k.pkl        # 'filename', 'folder', 'objectnames'
    ROOT/images/ADE/{training,validation}/<scene>/.../ADE_*.jpg, ADE_*_seg.png

The class of a pixel of ``*_seg.png`` is ``R // 10 * 256 + G`` (0 =
unlabelled, ``c`` = ``objectnames[c - 1]``); the 847 benchmark classes get
train ids 0..846, every other value 65535 (ignored). As in the benchmark's
original preparation (MaskFormer), images whose short side exceeds 512 are
resized to short side 512 (image bilinear, labels nearest) and re-encoded
as JPEG with PIL's default quality 75. Output::

    ROOT/images_847/{training,validation}/ADE_*.jpg
    ROOT/annotations_847/{training,validation}/ADE_*.tif   # uint16
    ROOT/annotations_847/<split>/preparation.json  # this script, its
                                  # PREPARATION_VERSION and the options

    python tools/dataset_converters/ade20k_847.py data/ade/ADE20K_2021_17_01
"""
import argparse
import pickle
from functools import partial
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
from _common import (PreparationError, add_nproc_argument, lookup_table,
                     map_with_progress, read_image_array, require_all,
                     require_file, run, save_label)
from PIL import Image

from mrovseg_mmseg.datasets.ade import normalize_synonyms
from mrovseg_mmseg.datasets.names.ade847 import ADE847_CLASSES
from mrovseg_mmseg.datasets.preparation import write_stamp

# Raised whenever the files this script writes change.
PREPARATION_VERSION = 1
IGNORE = 65535
SPLITS = ('training', 'validation')
ARCHIVE = 'the ADE20K_2021_17_01 release'
INDEX_KEYS = ('filename', 'folder', 'objectnames')
MAX_NAME_ERRORS = 5


def load_index(path: Path) -> dict:
    """The release's index: lists of file names, folders, class names."""
    require_file(path, ARCHIVE)
    try:
        with open(path, 'rb') as handle:
            index = pickle.load(handle)
    except Exception as err:
        raise PreparationError(
            f'cannot read index file {path}: {err}') from err
    if not isinstance(index, dict):
        raise PreparationError(f'index file {path} holds a '
                               f'{type(index).__name__}, expected a dict')
    missing = [key for key in INDEX_KEYS if key not in index]
    if missing:
        raise PreparationError(f'index file {path} lacks the key(s) '
                               f'{missing}')
    return index


def check_class_names(objectnames: Sequence[str], index_path: Path) -> None:
    """The 847 classes must sit at their expected places of the index."""
    errors = []
    for train_id, (ade_index, name) in enumerate(ADE847_CLASSES):
        if ade_index > len(objectnames):
            found = '<absent>'
        else:
            found = str(objectnames[ade_index - 1])
        if normalize_synonyms(found) != normalize_synonyms(name):
            errors.append(f'class {ade_index} (train id {train_id}) is '
                          f'{found!r}, expected {name!r}')
    if errors:
        raise PreparationError(
            f'index file {index_path} is not the ADE20K_2021_17_01 index '
            f'the ADE-847 benchmark is defined on: {len(errors)} class '
            f'name(s) differ, e.g. ' + '; '.join(errors[:MAX_NAME_ERRORS]) +
            ' (use --skip-name-check to convert anyway)')


def image_split(filename: str) -> str:
    """'ADE_val_00000001.jpg' -> 'validation', other names -> 'training'."""
    return 'validation' if filename.split('_')[1:2] == ['val'] else 'training'


def locate(root: Path, folder: str, filename: str) -> Path:
    """The image file of an index entry.

    Index folders start with the release's folder name
    (``ADE20K_2021_17_01/images/...``); they are resolved from ROOT's parent,
    or from ROOT itself when it was renamed.
    """
    path = root.parent / folder / filename
    if path.is_file():
        return path
    return root.joinpath(*Path(folder).parts[1:], filename)


def seg_path(image_path: Path) -> Path:
    """'.../ADE_val_00000001.jpg' -> '.../ADE_val_00000001_seg.png'."""
    return image_path.with_name(image_path.stem + '_seg.png')


def class_mask(path: Path) -> np.ndarray:
    """ADE20K class value of every pixel, (H, W) int64."""
    seg = read_image_array(path, what='segmentation')
    if seg.ndim != 3 or seg.shape[2] < 3:
        raise PreparationError(
            f'segmentation {path} has shape {seg.shape}: expected an RGB '
            'image whose R and G channels encode the class')
    red = seg[..., 0].astype(np.int64)
    green = seg[..., 1].astype(np.int64)
    return red // 10 * 256 + green


def resize_short_side(image: np.ndarray, classes: np.ndarray,
                      max_short_side: int) -> Tuple[np.ndarray, np.ndarray]:
    """Resize both so that the short side is at most ``max_short_side``."""
    height, width = classes.shape
    if min(height, width) <= max_short_side:
        return image, classes
    if width >= height:
        size = (round(width / height * max_short_side), max_short_side)
    else:
        size = (max_short_side, round(height / width * max_short_side))
    image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    classes = cv2.resize(
        classes.astype(np.int32), size, interpolation=cv2.INTER_NEAREST)
    return image, classes


def convert_image(entry: Tuple[Path, Path, Path], *, table: np.ndarray,
                  max_short_side: int, jpeg_quality: int) -> None:
    """One release image -> resized JPEG and uint16 train-id TIFF."""
    image_path, out_image, out_label = entry
    image = read_image_array(image_path, what='image')
    classes = class_mask(seg_path(image_path))
    if image.shape[:2] != classes.shape:
        raise PreparationError(
            f'segmentation {seg_path(image_path)} is {classes.shape[1]}x'
            f'{classes.shape[0]} but image {image_path} is '
            f'{image.shape[1]}x{image.shape[0]}')
    if classes.max() >= len(table):
        raise PreparationError(
            f'segmentation {seg_path(image_path)} holds class value '
            f'{classes.max()}, '
            f'beyond the {len(table) - 1} classes of the index')
    image, classes = resize_short_side(image, classes, max_short_side)
    out_image.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(out_image, quality=jpeg_quality)
    save_label(out_label, table[classes])


def entries(root: Path, index: dict,
            splits: Sequence[str]) -> List[Tuple[Path, Path, Path]]:
    """(release image, output image, output label) of the chosen splits."""
    result = []
    for folder, filename in zip(index['folder'], index['filename']):
        filename = str(filename)
        split = image_split(filename)
        if split not in splits:
            continue
        image_path = locate(root, str(folder), filename)
        stem = Path(filename).stem
        result.append((image_path, root / 'images_847' / split / filename,
                       root / 'annotations_847' / split / f'{stem}.tif'))
    if not result:
        raise PreparationError(
            f'index_ade20k.pkl lists no image of the splits {list(splits)}')
    origin = f'{ARCHIVE} (listed in index_ade20k.pkl)'
    require_all([image for image, _, _ in result], 'image', origin)
    require_all([seg_path(image) for image, _, _ in result],
                'segmentation file', origin)
    return result


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write ADE-847 images and uint16 train-id label maps '
        '(images_847/, annotations_847/) from the ADE20K full release.')
    parser.add_argument(
        'root', type=Path, help='e.g. data/ade/ADE20K_2021_17_01')
    parser.add_argument(
        '--splits',
        nargs='+',
        choices=SPLITS,
        default=['validation'],
        help='splits to convert (default: validation, the zero-shot '
        'benchmark)')
    parser.add_argument(
        '--max-short-side',
        type=int,
        default=512,
        help='resize images whose short side is longer (default: 512, the '
        "benchmark's preparation)")
    parser.add_argument(
        '--jpeg-quality',
        type=int,
        default=75,
        help='JPEG quality of the written images (default: 75)')
    parser.add_argument(
        '--skip-name-check',
        action='store_true',
        help='convert even if the index names the 847 classes differently')
    add_nproc_argument(parser)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    index_path = args.root / 'index_ade20k.pkl'
    index = load_index(index_path)
    objectnames = list(index['objectnames'])
    if not args.skip_name_check:
        check_class_names(objectnames, index_path)
    table = lookup_table(
        {
            ade_index: train_id
            for train_id, (ade_index, _) in enumerate(ADE847_CLASSES)
        },
        len(objectnames) + 1, IGNORE)
    todo = entries(args.root, index, args.splits)
    map_with_progress(
        partial(
            convert_image,
            table=table,
            max_short_side=args.max_short_side,
            jpeg_quality=args.jpeg_quality),
        todo,
        nproc=args.nproc,
        desc='ADE-847')
    options = dict(
        max_short_side=args.max_short_side,
        jpeg_quality=args.jpeg_quality,
        skip_name_check=args.skip_name_check)
    for folder in sorted({label.parent for _, _, label in todo}):
        write_stamp(folder, 'ade20k_847.py', PREPARATION_VERSION, options)
    print(f'wrote {len(todo)} images and label maps to '
          f'{args.root / "images_847"} and {args.root / "annotations_847"}')
    return 0


if __name__ == '__main__':
    run(main)
