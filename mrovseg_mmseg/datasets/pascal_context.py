"""PASCAL-Context benchmarks: PC-59 and PC-459 (VOC2010 images).

Both read what ``tools/dataset_converters/pascal_context.py`` writes from the
full annotation (``trainval.tar.gz``, one ``LabelMap`` per image, labels
1..459, 0 = unlabelled)::

    data/VOCdevkit/VOC2010/JPEGImages/<id>.jpg
    data/VOCdevkit/VOC2010/ImageSets/SegmentationContext/{train,val}.txt
    data/VOCdevkit/VOC2010/SegmentationClassContext/<id>.png      # PC-59
    data/VOCdevkit/VOC2010/SegmentationClassContext459/<id>.tif   # PC-459

PC-59 labels are uint8 with 0 = background (unlabelled or one of the other
400 classes) and 1..59 = classes, as mmseg's converter writes them, read
with ``reduce_zero_label``. PC-459 labels are uint16 train ids 0..458 with
65535 = unlabelled.
"""
from mmseg.datasets import PascalContextDataset59
from mmseg.registry import DATASETS

from .names.pc459 import PC459_CLASSES
from .ov_seg_dataset import OVSegDataset, generated_palette

PC459_RAW_CLASSES = tuple(raw for raw, _ in PC459_CLASSES)
PC59_RAW_CLASSES = tuple(PascalContextDataset59.METAINFO['classes'])
# Label value in the full annotation (1..459) of each PC-59 class; PC-59
# keeps these 59 of the 459 classes and makes every other one background.
PC59_LABEL_IDS = tuple(
    PC459_RAW_CLASSES.index(name) + 1 for name in PC59_RAW_CLASSES)
# Official names glued from two words, written apart for the text encoder.
PROMPT_RENAMES = {'pottedplant': 'potted plant', 'tvmonitor': 'tv monitor'}


@DATASETS.register_module()
class PascalContext59Dataset(OVSegDataset):
    """PC-59: 59 classes, uint8 labels, background 0 -> ignore (255).

    ``raw_classes`` are the official names (mmseg's); ``classes`` write
    ``pottedplant`` and ``tvmonitor`` as two words. Palette: mmseg's.
    """
    METAINFO = dict(
        classes=tuple(
            PROMPT_RENAMES.get(name, name) for name in PC59_RAW_CLASSES),
        raw_classes=PC59_RAW_CLASSES,
        palette=PascalContextDataset59.METAINFO['palette'])
    PREPARE_HINT = ('prepare it with `python tools/dataset_converters/'
                    'pascal_context.py data/VOCdevkit/VOC2010`')

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault('img_suffix', '.jpg')
        kwargs.setdefault('seg_map_suffix', '.png')
        kwargs.setdefault('reduce_zero_label', True)
        super().__init__(**kwargs)


@DATASETS.register_module()
class PascalContext459Dataset(OVSegDataset):
    """PC-459: 459 classes, uint16 ``.tif`` labels, ignore index 65535.

    ``raw_classes`` are the names of the release's ``labels.txt``, whose
    multi-word names are glued (``airconditioner``); ``classes`` write them
    as words (``air conditioner``). Palette: generated (seed 459).
    """
    METAINFO = dict(
        classes=tuple(prompt for _, prompt in PC459_CLASSES),
        raw_classes=PC459_RAW_CLASSES,
        palette=generated_palette(len(PC459_CLASSES), seed=459))
    IGNORE_INDEX = 65535
    PREPARE_HINT = PascalContext59Dataset.PREPARE_HINT

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault('img_suffix', '.jpg')
        kwargs.setdefault('seg_map_suffix', '.tif')
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(**kwargs)
