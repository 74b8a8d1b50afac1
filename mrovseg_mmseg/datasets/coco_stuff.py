"""COCO-Stuff-164k with its 171 classes (the training set of the paper).

Layout read (mmseg's, written by ``tools/dataset_converters/coco_stuff164k.py``
next to the official ``stuffthingmaps_trainval2017`` maps)::

    data/coco_stuff164k/images/{train2017,val2017}/<id>.jpg
    data/coco_stuff164k/annotations/{train2017,val2017}/<id>_labelTrainIds.png

Labels are uint8 train ids 0..170, 255 = unlabelled.
"""
from mmseg.datasets import COCOStuffDataset
from mmseg.registry import DATASETS

from .ov_seg_dataset import OVSegDataset

# Values of the official stuffthingmaps that no COCO-Stuff-171 class uses:
# COCO thing ids without annotations (street sign, hat, shoe, eye glasses,
# plate, mirror, window, desk, door, blender, hair brush), 0-based.
COCO_STUFF_UNUSED_IDS = (11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90)
# Raw stuffthingmaps value of each train id 0..170.
COCO_STUFF_RAW_IDS = tuple(
    value for value in range(182) if value not in COCO_STUFF_UNUSED_IDS)

# mmseg's names are the official ones; these are rewritten for the text
# encoder: '-other'/'-stuff' dropped, material compounds as English words.
PROMPT_RENAMES = {
    'building-other': 'building',
    'ceiling-other': 'ceiling',
    'ceiling-tile': 'tile ceiling',
    'desk-stuff': 'desk',
    'door-stuff': 'door',
    'floor-marble': 'marble floor',
    'floor-other': 'floor',
    'floor-stone': 'stone floor',
    'floor-tile': 'tile floor',
    'floor-wood': 'wood floor',
    'food-other': 'food',
    'furniture-other': 'furniture',
    'ground-other': 'ground',
    'mirror-stuff': 'mirror',
    'plant-other': 'plant',
    'playingfield': 'playing field',
    'sky-other': 'sky',
    'solid-other': 'solid',
    'structural-other': 'structure',
    'textile-other': 'textile',
    'wall-brick': 'brick wall',
    'wall-concrete': 'concrete wall',
    'wall-other': 'wall',
    'wall-panel': 'panel wall',
    'wall-stone': 'stone wall',
    'wall-tile': 'tile wall',
    'wall-wood': 'wood wall',
    'water-other': 'water',
    'waterdrops': 'water drops',
    'window-blind': 'window blind',
    'window-other': 'window',
}

RAW_CLASSES = tuple(COCOStuffDataset.METAINFO['classes'])


@DATASETS.register_module()
class COCOStuff171Dataset(OVSegDataset):
    """COCO-Stuff-164k, 171 classes, uint8 labels with ignore index 255.

    ``classes`` rewrite the 31 hyphenated or glued official names
    (``PROMPT_RENAMES``, e.g. ``wall-brick`` -> ``brick wall``); the
    official names are ``raw_classes``. Palette: mmseg's.
    """
    METAINFO = dict(
        classes=tuple(PROMPT_RENAMES.get(name, name) for name in RAW_CLASSES),
        raw_classes=RAW_CLASSES,
        palette=COCOStuffDataset.METAINFO['palette'])
    PREPARE_HINT = ('prepare it with `python tools/dataset_converters/'
                    'coco_stuff164k.py data/coco_stuff164k`')

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault('img_suffix', '.jpg')
        kwargs.setdefault('seg_map_suffix', '_labelTrainIds.png')
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(**kwargs)
