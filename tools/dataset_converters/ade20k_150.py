"""Check ADEChallengeData2016 (ADE-150) for ``ADE150Dataset``.

``ADE150Dataset`` reads the official layout unchanged, so nothing is
written: this script checks that every image of the chosen splits has its
label map and that every label value is 0 (unlabelled) or a class 1..150::

    ROOT/images/{training,validation}/ADE_*.jpg
    ROOT/annotations/{training,validation}/ADE_*.png

    python tools/dataset_converters/ade20k_150.py data/ade/ADEChallengeData2016
"""
import argparse
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from _common import (add_nproc_argument, check_values, map_with_progress,
                     paired_labels, read_single_channel, run)

ARCHIVE = 'ADEChallengeData2016.zip'
SPLITS = ('training', 'validation')
VALID = np.arange(151)


def check_label(path: Path) -> None:
    labels = read_single_channel(path)
    check_values(path, labels, VALID, '0 (unlabelled) and the classes 1..150')


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Check the ADE-150 (ADEChallengeData2016) images and '
        'label maps; writes nothing.')
    parser.add_argument(
        'root', type=Path, help='e.g. data/ade/ADEChallengeData2016')
    parser.add_argument(
        '--splits',
        nargs='+',
        choices=SPLITS,
        default=['validation'],
        help='splits to check (default: validation, the zero-shot '
        'benchmark)')
    add_nproc_argument(parser)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    for split in args.splits:
        labels = paired_labels(
            args.root / 'images' / split,
            args.root / 'annotations' / split,
            origin=ARCHIVE,
            label_origin=ARCHIVE)
        map_with_progress(
            check_label, labels, nproc=args.nproc, desc=f'ADE-150 {split}')
        print(f'{split}: {len(labels)} images and label maps are valid')
    return 0


if __name__ == '__main__':
    run(main)
