"""Check PASCAL VOC 2012 for ``PascalVOC20Dataset`` (VOC-20).

``PascalVOC20Dataset`` reads the official layout unchanged (background and
boundaries are ignored through ``reduce_zero_label``), so nothing is written:
this script checks that every image of the chosen splits exists with its
label map and that every label value is 0 (background), a class 1..20 or
255 (boundary)::

    ROOT/JPEGImages/<id>.jpg
    ROOT/SegmentationClass/<id>.png            # palette PNG
    ROOT/ImageSets/Segmentation/{train,val}.txt

    python tools/dataset_converters/voc.py data/VOCdevkit/VOC2012
"""
import argparse
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from _common import (add_nproc_argument, check_values, map_with_progress,
                     read_id_list, read_single_channel, require_all,
                     require_dir, run)

ARCHIVE = 'VOCtrainval_11-May-2012.tar'
SPLITS = ('train', 'val')
VALID = np.append(np.arange(21), 255)


def check_label(path: Path) -> None:
    labels = read_single_channel(path)
    check_values(path, labels, VALID,
                 '0 (background), the classes 1..20 and 255 (boundary)')


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Check the VOC2012 images and segmentation label maps '
        'used by VOC-20; writes nothing.')
    parser.add_argument('root', type=Path, help='e.g. data/VOCdevkit/VOC2012')
    parser.add_argument(
        '--splits',
        nargs='+',
        choices=SPLITS,
        default=['val'],
        help='splits to check (default: val, the zero-shot benchmark)')
    add_nproc_argument(parser)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    root = args.root
    require_dir(root / 'JPEGImages', ARCHIVE)
    require_dir(root / 'SegmentationClass', ARCHIVE)
    for split in args.splits:
        ids = read_id_list(
            root / 'ImageSets' / 'Segmentation' / f'{split}.txt', ARCHIVE)
        require_all([root / 'JPEGImages' / f'{i}.jpg' for i in ids], 'image',
                    ARCHIVE)
        labels = require_all(
            [root / 'SegmentationClass' / f'{i}.png' for i in ids],
            'label file', ARCHIVE)
        map_with_progress(
            check_label, labels, nproc=args.nproc, desc=f'VOC2012 {split}')
        print(f'{split}: {len(ids)} images and label maps are valid')
    return 0


if __name__ == '__main__':
    run(main)
