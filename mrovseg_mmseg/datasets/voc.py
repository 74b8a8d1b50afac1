"""PASCAL VOC 2012 as the 20-class zero-shot benchmark VOC-20.

Reads the official ``VOCtrainval_11-May-2012`` layout unchanged::

    data/VOCdevkit/VOC2012/JPEGImages/<id>.jpg
    data/VOCdevkit/VOC2012/SegmentationClass/<id>.png   # palette PNG
    data/VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val}.txt

Stored values: 0 = background, 1..20 = classes, 255 = object boundaries.
VOC-20 has no background class: ``reduce_zero_label`` turns background into
the ignore index 255 and class ``v`` into train id ``v - 1``.
"""
from mmseg.datasets import PascalVOCDataset
from mmseg.registry import DATASETS

from .ov_seg_dataset import OVSegDataset

VOC20_RAW_CLASSES = tuple(PascalVOCDataset.METAINFO['classes'][1:])
# Official names glued from two words, written apart for the text encoder.
PROMPT_RENAMES = {
    'diningtable': 'dining table',
    'pottedplant': 'potted plant',
    'tvmonitor': 'tv monitor',
}


@DATASETS.register_module()
class PascalVOC20Dataset(OVSegDataset):
    """VOC-20: 20 classes, uint8 labels, background and boundaries ignored.

    ``raw_classes`` are the official names (mmseg's without
    ``background``); ``classes`` write the three glued names as two words.
    Palette: mmseg's without background.
    """
    METAINFO = dict(
        classes=tuple(
            PROMPT_RENAMES.get(name, name) for name in VOC20_RAW_CLASSES),
        raw_classes=VOC20_RAW_CLASSES,
        palette=PascalVOCDataset.METAINFO['palette'][1:])
    PREPARE_HINT = ('extract VOCtrainval_11-May-2012.tar into data and check '
                    'it with `python tools/dataset_converters/voc.py '
                    'data/VOCdevkit/VOC2012`')

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault('img_suffix', '.jpg')
        kwargs.setdefault('seg_map_suffix', '.png')
        kwargs.setdefault('reduce_zero_label', True)
        super().__init__(**kwargs)
