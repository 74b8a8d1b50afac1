"""Cityscapes with its 19 evaluation classes (high-resolution benchmark).

Reads mmseg's layout: the official ``leftImg8bit_trainvaltest`` images and
the ``*_gtFine_labelTrainIds.png`` maps that
``tools/dataset_converters/cityscapes.py`` writes into the official ``gtFine``
folders::

    data/cityscapes/leftImg8bit/val/<city>/<name>_leftImg8bit.png
    data/cityscapes/gtFine/val/<city>/<name>_gtFine_labelTrainIds.png

Labels are uint8 train ids 0..18, 255 = every class not evaluated.
"""
from typing import NamedTuple

from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS

from .ov_seg_dataset import OVSegDataset


class CityscapesLabel(NamedTuple):
    """One label of the official Cityscapes label table."""
    name: str
    id: int
    train_id: int


# The official table (cityscapesscripts ``labels.py``): polygon label name,
# value in ``*_gtFine_labelIds.png``, train id (255 = not evaluated). The
# license plate (id -1) is never drawn into the label maps.
CITYSCAPES_LABELS = tuple(
    CityscapesLabel(*row) for row in (
        ('unlabeled', 0, 255),
        ('ego vehicle', 1, 255),
        ('rectification border', 2, 255),
        ('out of roi', 3, 255),
        ('static', 4, 255),
        ('dynamic', 5, 255),
        ('ground', 6, 255),
        ('road', 7, 0),
        ('sidewalk', 8, 1),
        ('parking', 9, 255),
        ('rail track', 10, 255),
        ('building', 11, 2),
        ('wall', 12, 3),
        ('fence', 13, 4),
        ('guard rail', 14, 255),
        ('bridge', 15, 255),
        ('tunnel', 16, 255),
        ('pole', 17, 5),
        ('polegroup', 18, 255),
        ('traffic light', 19, 6),
        ('traffic sign', 20, 7),
        ('vegetation', 21, 8),
        ('terrain', 22, 9),
        ('sky', 23, 10),
        ('person', 24, 11),
        ('rider', 25, 12),
        ('car', 26, 13),
        ('truck', 27, 14),
        ('bus', 28, 15),
        ('caravan', 29, 255),
        ('trailer', 30, 255),
        ('train', 31, 16),
        ('motorcycle', 32, 17),
        ('bicycle', 33, 18),
        ('license plate', -1, -1),
    ))

CITYSCAPES_CLASSES = tuple(CityscapesDataset.METAINFO['classes'])


@DATASETS.register_module()
class CityscapesOVDataset(OVSegDataset):
    """Cityscapes, 19 classes, uint8 train-id labels, ignore index 255.

    mmseg's class names and palette are the official ones and already
    plain words, so ``classes`` and ``raw_classes`` are equal.
    """
    METAINFO = dict(
        classes=CITYSCAPES_CLASSES,
        raw_classes=CITYSCAPES_CLASSES,
        palette=CityscapesDataset.METAINFO['palette'])
    PREPARE_HINT = ('prepare it with `python tools/dataset_converters/'
                    'cityscapes.py data/cityscapes`')

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault('img_suffix', '_leftImg8bit.png')
        kwargs.setdefault('seg_map_suffix', '_gtFine_labelTrainIds.png')
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(**kwargs)
