"""ADE20K benchmarks: ADE-150 (SceneParsing) and ADE-847 (ADE20K full).

ADE-150 reads the official ``ADEChallengeData2016`` layout unchanged::

    data/ade/ADEChallengeData2016/images/validation/ADE_val_*.jpg
    data/ade/ADEChallengeData2016/annotations/validation/ADE_val_*.png

(uint8, 0 = unlabelled, 1..150 = classes; ``reduce_zero_label``).

ADE-847 reads what ``tools/dataset_converters/ade20k_847.py`` writes from the
``ADE20K_2021_17_01`` release::

    data/ade/ADE20K_2021_17_01/images_847/validation/ADE_val_*.jpg
    data/ade/ADE20K_2021_17_01/annotations_847/validation/ADE_val_*.tif

(uint16 train ids 0..846, 65535 = unlabelled or one of the other classes).
"""
from mmseg.datasets import ADE20KDataset
from mmseg.registry import DATASETS

from .names.ade847 import ADE847_CLASSES
from .ov_seg_dataset import OVSegDataset, generated_palette

ADE150_RAW_CLASSES = tuple(ADE20KDataset.METAINFO['classes'])
ADE847_RAW_CLASSES = tuple(name for _, name in ADE847_CLASSES)
# The ADE20K class value (``*_seg.png``) of each ADE-847 train id.
ADE847_ADE_INDICES = tuple(index for index, _ in ADE847_CLASSES)


def normalize_synonyms(name: str) -> str:
    """'a , b  c' -> 'a, b c': one space after each comma, none elsewhere."""
    return ', '.join(' '.join(part.split()) for part in name.split(','))


@DATASETS.register_module()
class ADE150Dataset(OVSegDataset):
    """ADE-150: 150 classes, uint8 labels, 0 -> ignore (255).

    Names are mmseg's (the first name of each class in the official
    ``objectInfo150``, as used by published ADE-150 results); mmseg's
    ``'bed '`` carries a trailing space, stripped in ``classes``. Palette:
    mmseg's.
    """
    METAINFO = dict(
        classes=tuple(name.strip() for name in ADE150_RAW_CLASSES),
        raw_classes=ADE150_RAW_CLASSES,
        palette=ADE20KDataset.METAINFO['palette'])
    PREPARE_HINT = ('unzip ADEChallengeData2016.zip into data/ade and check '
                    'it with `python tools/dataset_converters/ade20k_150.py '
                    'data/ade/ADEChallengeData2016`')

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault('img_suffix', '.jpg')
        kwargs.setdefault('seg_map_suffix', '.png')
        kwargs.setdefault('reduce_zero_label', True)
        super().__init__(**kwargs)


@DATASETS.register_module()
class ADE847Dataset(OVSegDataset):
    """ADE-847: 847 classes, uint16 ``.tif`` labels, ignore index 65535.

    The official names are WordNet synonym lists (``'sofa, couch,
    lounge'``), which is already the text encoder's synonym syntax:
    ``classes`` are these strings with whitespace normalized (one entry,
    ``'c p u '``, changes), so the encoder averages all WordNet synonyms of
    a class; ``raw_classes`` are the strings exactly as released. Palette:
    generated (seed 847).
    """
    METAINFO = dict(
        classes=tuple(normalize_synonyms(name) for name in ADE847_RAW_CLASSES),
        raw_classes=ADE847_RAW_CLASSES,
        palette=generated_palette(len(ADE847_CLASSES), seed=847))
    IGNORE_INDEX = 65535
    PREPARE_HINT = ('prepare it with `python tools/dataset_converters/'
                    'ade20k_847.py data/ade/ADE20K_2021_17_01`')

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault('img_suffix', '.jpg')
        kwargs.setdefault('seg_map_suffix', '.tif')
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(**kwargs)
