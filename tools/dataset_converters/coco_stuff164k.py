"""Prepare COCO-Stuff-164k (171 classes) for ``COCOStuff171Dataset``.

Input, from the official archives unzipped into ROOT::

    ROOT/images/{train2017,val2017}/<id>.jpg   # train2017.zip, val2017.zip
    ROOT/annotations/{train2017,val2017}/<id>.png
                                    # stuffthingmaps_trainval2017.zip

The stuffthingmaps store 0-based COCO-Stuff ids 0..181 and 255 (unlabelled).
Output, next to them: ``<id>_labelTrainIds.png`` (uint8 train ids 0..170,
255 = unlabelled; the 11 ids no class uses become 255 too).

    python tools/dataset_converters/coco_stuff164k.py data/coco_stuff164k
"""
import argparse
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from _common import (add_nproc_argument, check_values, lookup_table,
                     map_with_progress, paired_labels, read_single_channel,
                     run, save_label)

from mrovseg_mmseg.datasets.coco_stuff import (COCO_STUFF_RAW_IDS,
                                               COCO_STUFF_UNUSED_IDS)

IGNORE = 255
SPLITS = ('train2017', 'val2017')
IMAGE_ARCHIVE = '{split}.zip unzipped into ROOT/images'
LABEL_ARCHIVE = ('stuffthingmaps_trainval2017.zip unzipped into '
                 'ROOT/annotations')
OUTPUT_SUFFIX = '_labelTrainIds.png'

TRAIN_IDS = lookup_table(
    {
        raw: train
        for train, raw in enumerate(COCO_STUFF_RAW_IDS)
    },
    256,
    IGNORE,
    dtype=np.uint8)
VALID_RAW = np.array(
    sorted(set(COCO_STUFF_RAW_IDS) | set(COCO_STUFF_UNUSED_IDS) | {IGNORE}))


def convert_label(raw_path: Path) -> None:
    """stuffthingmap -> ``*_labelTrainIds.png`` next to it."""
    labels = read_single_channel(raw_path)
    check_values(raw_path, labels, VALID_RAW,
                 'the COCO-Stuff ids 0..181 and 255 (unlabelled)')
    out = raw_path.with_name(raw_path.stem + OUTPUT_SUFFIX)
    save_label(out, TRAIN_IDS[labels])


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write COCO-Stuff-171 train-id label maps '
        '(<id>_labelTrainIds.png) next to the official stuffthingmaps.')
    parser.add_argument('root', type=Path, help='e.g. data/coco_stuff164k')
    parser.add_argument(
        '--splits',
        nargs='+',
        choices=SPLITS,
        default=list(SPLITS),
        help='splits to convert (default: both)')
    add_nproc_argument(parser)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    for split in args.splits:
        labels = paired_labels(
            args.root / 'images' / split,
            args.root / 'annotations' / split,
            origin=IMAGE_ARCHIVE.format(split=split),
            label_origin=LABEL_ARCHIVE)
        map_with_progress(
            convert_label,
            labels,
            nproc=args.nproc,
            desc=f'COCO-Stuff {split}')
        print(f'{split}: wrote {len(labels)} label maps ending in '
              f'{OUTPUT_SUFFIX} to {args.root / "annotations" / split}')
    return 0


if __name__ == '__main__':
    run(main)
