"""Prepare PASCAL-Context (PC-59 and PC-459) for the two datasets.

Input, ROOT being ``VOCdevkit/VOC2010``::

    ROOT/JPEGImages/<id>.jpg                  # VOCtrainval_03-May-2010.tar
    ROOT/ImageSets/Main/{train,val}.txt       # same archive
    ROOT/trainval/<id>.mat                    # trainval.tar.gz (Context)
    ROOT/labels.txt                           # optional, "<id>: <name>" lines

Each ``.mat`` holds ``LabelMap``, the full annotation: labels 1..459 and
0 = unlabelled. PASCAL-Context's train/val split is VOC2010's Main
train/val split (4998/5105 images). Output::

    ROOT/SegmentationClassContext/<id>.png     # PC-59, uint8: 0 background
                                               # (unlabelled or other class),
                                               # 1..59 the 59 classes
    ROOT/SegmentationClassContext459/<id>.tif  # PC-459, uint16: label - 1,
                                               # 65535 unlabelled
    ROOT/ImageSets/SegmentationContext/{train,val}.txt
    ROOT/SegmentationClassContext{,459}/preparation.json  # this script and
                                               # its PREPARATION_VERSION

    python tools/dataset_converters/pascal_context.py data/VOCdevkit/VOC2010
"""
import argparse
import re
from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np
import scipy.io
from _common import (PreparationError, add_nproc_argument, check_values,
                     lookup_table, map_with_progress, read_id_list,
                     require_all, require_dir, run, save_label)

from mrovseg_mmseg.datasets.pascal_context import (PC59_LABEL_IDS,
                                                   PC459_RAW_CLASSES)
from mrovseg_mmseg.datasets.preparation import write_stamp

# Raised whenever the files this script writes change.
PREPARATION_VERSION = 1
LABEL_FOLDERS = ('SegmentationClassContext', 'SegmentationClassContext459')
SPLITS = ('train', 'val')
VOC_ARCHIVE = 'VOCtrainval_03-May-2010.tar'
CONTEXT_ARCHIVE = 'trainval.tar.gz (PASCAL-Context) extracted into ROOT'
NUM_LABELS = len(PC459_RAW_CLASSES)
IGNORE_459 = 65535

# Full label -> PC-59 value (1..59), background 0 otherwise.
TO_59 = lookup_table({
    label: i + 1
    for i, label in enumerate(PC59_LABEL_IDS)
},
                     NUM_LABELS + 1,
                     0,
                     dtype=np.uint8)
# Full label -> PC-459 train id (label - 1), 0 -> 65535.
TO_459 = lookup_table({label: label - 1
                       for label in range(1, NUM_LABELS + 1)}, NUM_LABELS + 1,
                      IGNORE_459)
VALID = np.arange(NUM_LABELS + 1)


def read_label_map(path: Path) -> np.ndarray:
    """The ``LabelMap`` of one annotation file, (H, W)."""
    if not path.is_file():
        raise PreparationError(f'missing label file {path} (expected from '
                               f'{CONTEXT_ARCHIVE})')
    try:
        labels = scipy.io.loadmat(path)['LabelMap']
    except KeyError as err:
        raise PreparationError(f'label file {path} has no LabelMap') from err
    except Exception as err:
        raise PreparationError(
            f'cannot read label file {path}: {err}') from err
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise PreparationError(
            f'LabelMap of {path} has shape {labels.shape} and dtype '
            f'{labels.dtype}: expected (H, W) integer labels')
    check_values(path, labels, VALID,
                 f'0 (unlabelled) and the labels 1..{NUM_LABELS}')
    return labels


def convert(entry: Tuple[Path, Path, Path]) -> None:
    mat_path, out_59, out_459 = entry
    labels = read_label_map(mat_path)
    save_label(out_59, TO_59[labels])
    save_label(out_459, TO_459[labels])


def check_labels_txt(root: Path) -> Optional[Path]:
    """Compare the release's ``labels.txt`` (when present) with ours."""
    for path in (root / 'labels.txt', root / 'trainval' / 'labels.txt'):
        if path.is_file():
            break
    else:
        return None
    names = {}
    for line in path.read_text().splitlines():
        match = re.match(r'\s*(\d+)\s*:\s*(.*\S)', line)
        if match:
            names[int(match.group(1))] = match.group(2)
    for label, expected in enumerate(PC459_RAW_CLASSES, start=1):
        if names.get(label) != expected:
            raise PreparationError(
                f'{path}: label {label} is {names.get(label)!r}, expected '
                f'{expected!r}; this is not the 459-class PASCAL-Context '
                'annotation')
    return path


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write PC-59 (uint8 PNG) and PC-459 (uint16 TIFF) label '
        'maps and split files from the PASCAL-Context .mat annotation.')
    parser.add_argument('root', type=Path, help='e.g. data/VOCdevkit/VOC2010')
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
    root = args.root
    require_dir(root / 'JPEGImages', VOC_ARCHIVE)
    require_dir(root / 'trainval', CONTEXT_ARCHIVE)
    labels_txt = check_labels_txt(root)
    if labels_txt is not None:
        print(f'{labels_txt}: the 459 class names match')
    for split in args.splits:
        ids = read_id_list(root / 'ImageSets' / 'Main' / f'{split}.txt',
                           VOC_ARCHIVE)
        require_all([root / 'JPEGImages' / f'{i}.jpg' for i in ids], 'image',
                    VOC_ARCHIVE)
        require_all([root / 'trainval' / f'{i}.mat' for i in ids],
                    'label file', CONTEXT_ARCHIVE)
        todo = [(root / 'trainval' / f'{image_id}.mat',
                 root / LABEL_FOLDERS[0] / f'{image_id}.png',
                 root / LABEL_FOLDERS[1] / f'{image_id}.tif')
                for image_id in ids]
        map_with_progress(
            convert, todo, nproc=args.nproc, desc=f'PASCAL-Context {split}')
        split_file = root / 'ImageSets/SegmentationContext' / f'{split}.txt'
        split_file.parent.mkdir(parents=True, exist_ok=True)
        split_file.write_text('\n'.join(ids) + '\n')
        print(f'{split}: wrote {len(ids)} PC-59 and PC-459 label maps and '
              f'{split_file}')
    for folder in LABEL_FOLDERS:
        write_stamp(root / folder, 'pascal_context.py', PREPARATION_VERSION)
    return 0


if __name__ == '__main__':
    run(main)
