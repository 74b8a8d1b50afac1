"""The class lists: lengths, sources, prompt names the text encoder accepts."""
import pytest
from mmseg.datasets import (ADE20KDataset, CityscapesDataset, COCOStuffDataset,
                            PascalContextDataset59, PascalVOCDataset)

from mrovseg_mmseg.datasets import (ADE150Dataset, ADE847Dataset,
                                    CityscapesOVDataset, COCOStuff171Dataset,
                                    PascalContext59Dataset,
                                    PascalContext459Dataset,
                                    PascalVOC20Dataset)
from mrovseg_mmseg.datasets.coco_stuff import COCO_STUFF_RAW_IDS
from mrovseg_mmseg.datasets.names.ade847 import ADE847_CLASSES
from mrovseg_mmseg.datasets.pascal_context import PC59_LABEL_IDS
from mrovseg_mmseg.models.text_encoders.vocabulary import parse_vocabulary

LENGTHS = [
    (COCOStuff171Dataset, 171),
    (ADE150Dataset, 150),
    (ADE847Dataset, 847),
    (PascalContext59Dataset, 59),
    (PascalContext459Dataset, 459),
    (PascalVOC20Dataset, 20),
    (CityscapesOVDataset, 19),
]


@pytest.mark.parametrize('dataset_cls,length', LENGTHS)
def test_every_list_has_the_benchmark_length(dataset_cls, length):
    meta = dataset_cls.METAINFO
    assert len(meta['classes']) == length
    assert len(meta['raw_classes']) == length
    assert len(meta['palette']) == length
    assert all(
        len(colour) == 3 and all(0 <= c <= 255 for c in colour)
        for colour in meta['palette'])


@pytest.mark.parametrize('dataset_cls,length', LENGTHS)
def test_prompt_names_are_a_valid_vocabulary(dataset_cls, length):
    """No blank synonym, no duplicate class: the text encoder accepts them."""
    assert len(parse_vocabulary(dataset_cls.METAINFO['classes'])) == length


def test_raw_names_are_the_official_lists_mmseg_ships():
    pairs = [
        (COCOStuff171Dataset, COCOStuffDataset.METAINFO['classes']),
        (ADE150Dataset, ADE20KDataset.METAINFO['classes']),
        (PascalContext59Dataset, PascalContextDataset59.METAINFO['classes']),
        (PascalVOC20Dataset, PascalVOCDataset.METAINFO['classes'][1:]),
        (CityscapesOVDataset, CityscapesDataset.METAINFO['classes']),
    ]
    for ours, official in pairs:
        assert tuple(ours.METAINFO['raw_classes']) == tuple(official)


def test_prompt_names_only_respell_the_raw_names():
    coco = dict(
        zip(COCOStuff171Dataset.METAINFO['raw_classes'],
            COCOStuff171Dataset.METAINFO['classes']))
    assert coco['wall-brick'] == 'brick wall'
    assert coco['sky-other'] == 'sky'
    assert coco['person'] == 'person'
    assert sum(raw != new for raw, new in coco.items()) == 31
    assert ADE150Dataset.METAINFO['classes'][7] == 'bed'  # mmseg: 'bed '
    voc = PascalVOC20Dataset.METAINFO['classes']
    assert voc[10] == 'dining table' and voc[19] == 'tv monitor'
    for dataset_cls in (PascalContext459Dataset, PascalContext59Dataset):
        meta = dataset_cls.METAINFO
        for raw, prompt in zip(meta['raw_classes'], meta['classes']):
            assert raw == prompt.replace(
                ' ', '') or (raw, prompt) == ('fireplace', 'fireplace')
    assert PascalContext459Dataset.METAINFO['classes'][2] == 'air conditioner'


def test_ade847_keeps_the_wordnet_synonyms():
    meta = ADE847Dataset.METAINFO
    assert meta['classes'][11] == ('person, individual, someone, somebody, '
                                   'mortal, soul')
    changed = [(raw, new)
               for raw, new in zip(meta['raw_classes'], meta['classes'])
               if raw != new]
    assert changed == [
        ('central processing unit, cpu, c p u , central processor, processor,'
         ' mainframe', 'central processing unit, cpu, c p u, central '
         'processor, processor, mainframe')
    ]
    indices = [index for index, _ in ADE847_CLASSES]
    assert len(set(indices)) == 847
    assert ADE847_CLASSES[0] == (2978, 'wall')  # name_ndx of 'wall'
    assert ADE847_CLASSES[846] == (3148, 'adding machine, totalizer, '
                                   'totaliser')


def test_label_id_tables():
    # PC-59 keeps these labels of the full annotation, in its class order.
    assert PC59_LABEL_IDS[:3] == (2, 9, 18)  # aeroplane, bag, bed
    assert PC59_LABEL_IDS[-1] == 458  # wood
    assert list(PC59_LABEL_IDS) == sorted(PC59_LABEL_IDS)
    # COCO-Stuff: 80 thing and 91 stuff ids of the 0-based stuffthingmaps.
    assert len(COCO_STUFF_RAW_IDS) == 171
    assert COCO_STUFF_RAW_IDS[80] == 91  # banner, the first stuff class
    assert COCO_STUFF_RAW_IDS[-1] == 181  # wood
