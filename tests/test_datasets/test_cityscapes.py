"""Cityscapes: labelIds PNGs or polygon json -> labelTrainIds -> dataset."""
import numpy as np
import pytest

from mrovseg_mmseg.datasets import CityscapesOVDataset
from mrovseg_mmseg.datasets.cityscapes import CITYSCAPES_LABELS
from .fakes import fake_cityscapes_label_ids, fake_cityscapes_polygons
from .helpers import build, gt_maps

STEM_IDS = 'aachen_000000_000019'
STEM_POLYGONS = 'bremen_000000_000019'
# cityscapesscripts labels.py: (name, id, colour) of the 19 evaluated
# classes, in train id order; every other id has train id 255
OFFICIAL_CLASSES = [
    ('road', 7, (128, 64, 128)),
    ('sidewalk', 8, (244, 35, 232)),
    ('building', 11, (70, 70, 70)),
    ('wall', 12, (102, 102, 156)),
    ('fence', 13, (190, 153, 153)),
    ('pole', 17, (153, 153, 153)),
    ('traffic light', 19, (250, 170, 30)),
    ('traffic sign', 20, (220, 220, 0)),
    ('vegetation', 21, (107, 142, 35)),
    ('terrain', 22, (152, 251, 152)),
    ('sky', 23, (70, 130, 180)),
    ('person', 24, (220, 20, 60)),
    ('rider', 25, (255, 0, 0)),
    ('car', 26, (0, 0, 142)),
    ('truck', 27, (0, 0, 70)),
    ('bus', 28, (0, 60, 100)),
    ('train', 31, (0, 80, 100)),
    ('motorcycle', 32, (0, 0, 230)),
    ('bicycle', 33, (119, 11, 32)),
]
OFFICIAL_TRAIN_IDS = {
    label_id: train_id
    for train_id, (_, label_id, _) in enumerate(OFFICIAL_CLASSES)
}


def rectangle(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


POLYGON_OBJECTS = [
    dict(label='road', polygon=rectangle(0, 0, 5, 3)),
    dict(label='cargroup', polygon=rectangle(1, 1, 3, 2)),
    dict(label='license plate', polygon=rectangle(2, 1, 2, 1)),
    dict(label='person', polygon=rectangle(4, 0, 5, 0), deleted=1),
    dict(label='sky', polygon=rectangle(5, 3, 5, 3)),
]


def test_train_ids_from_label_ids_and_from_polygons(tmp_path, converter):
    root = tmp_path / 'cityscapes'
    label_ids = np.array([[7, 26, 0, 33], [24, 9, 23, 7]], dtype=np.uint8)
    fake_cityscapes_label_ids(root, 'val', STEM_IDS, label_ids)
    paths = fake_cityscapes_polygons(root, 'val', STEM_POLYGONS, 4, 6,
                                     POLYGON_OBJECTS)
    converter('cityscapes').main([str(root)])
    assert paths['train_ids'].is_file()
    dataset = build(CityscapesOVDataset, root, 'leftImg8bit/val', 'gtFine/val')
    assert len(dataset) == 2
    from_ids, from_polygons = gt_maps(dataset)
    # road 7 -> 0, car 26 -> 13, unlabeled 0 -> 255, bicycle 33 -> 18,
    # person 24 -> 11, parking 9 -> 255 (not evaluated), sky 23 -> 10.
    np.testing.assert_array_equal(from_ids,
                                  [[0, 13, 255, 18], [11, 255, 10, 0]])
    # road everywhere inside x 0..5, y 0..3; car ('cargroup') at x 1..3,
    # y 1..2; the license plate is not drawn, the deleted person neither.
    expected = np.zeros((4, 6), dtype=np.uint8)
    expected[1:3, 1:4] = 13
    expected[3, 5] = 10
    np.testing.assert_array_equal(from_polygons, expected)


def test_label_id_outside_the_table(tmp_path, converter, preparation_error):
    root = tmp_path / 'cityscapes'
    paths = fake_cityscapes_label_ids(root, 'val', STEM_IDS,
                                      np.array([[7, 34]], dtype=np.uint8))
    with pytest.raises(
            preparation_error, match=f'{paths["label_ids"]} holds value 34'):
        converter('cityscapes').main([str(root)])


def test_unknown_polygon_label(tmp_path, converter, preparation_error):
    root = tmp_path / 'cityscapes'
    paths = fake_cityscapes_polygons(
        root, 'val', STEM_POLYGONS, 2, 2,
        [dict(label='spaceship', polygon=rectangle(0, 0, 1, 1))])
    with pytest.raises(preparation_error) as err:
        converter('cityscapes').main([str(root)])
    assert str(paths['polygons']) in str(err.value)
    assert "unknown label 'spaceship'" in str(err.value)


def test_missing_annotation_is_named(tmp_path, converter, preparation_error):
    root = tmp_path / 'cityscapes'
    paths = fake_cityscapes_label_ids(root, 'val', STEM_IDS,
                                      np.zeros((2, 2), dtype=np.uint8))
    paths['label_ids'].unlink()
    with pytest.raises(
            preparation_error,
            match=f'missing label file {paths["label_ids"]}'):
        converter('cityscapes').main([str(root)])


def test_label_table_and_class_list_are_the_official_ones():
    drawn = [label for label in CITYSCAPES_LABELS if label.id >= 0]
    assert [label.id for label in drawn] == list(range(34))
    assert {
        label.id: label.train_id
        for label in drawn
    } == {
        label_id: OFFICIAL_TRAIN_IDS.get(label_id, 255)
        for label_id in range(34)
    }
    evaluated = sorted((label.train_id, label.name, label.id)
                       for label in drawn if label.train_id != 255)
    assert evaluated == [(train_id, name, label_id)
                         for train_id, (name, label_id,
                                        _) in enumerate(OFFICIAL_CLASSES)]
    meta = CityscapesOVDataset.METAINFO
    names = [name for name, _, _ in OFFICIAL_CLASSES]
    assert list(meta['classes']) == names
    assert list(meta['raw_classes']) == names
    assert [tuple(colour) for colour in meta['palette']
            ] == [colour for _, _, colour in OFFICIAL_CLASSES]


def test_every_label_id_and_class_name_gets_its_train_id(tmp_path, converter):
    root = tmp_path / 'cityscapes'
    label_ids = np.arange(34, dtype=np.uint8).reshape(2, 17)
    fake_cityscapes_label_ids(root, 'val', STEM_IDS, label_ids)
    objects = [
        dict(label=name, polygon=rectangle(column, 0, column, 0))
        for column, (name, _, _) in enumerate(OFFICIAL_CLASSES)
    ] + [dict(label='parking', polygon=rectangle(19, 0, 19, 0))]
    fake_cityscapes_polygons(root, 'val', STEM_POLYGONS, 1, 21, objects)
    converter('cityscapes').main([str(root)])
    dataset = build(CityscapesOVDataset, root, 'leftImg8bit/val', 'gtFine/val')
    from_ids, from_polygons = gt_maps(dataset)
    expected = [OFFICIAL_TRAIN_IDS.get(i, 255) for i in range(34)]
    np.testing.assert_array_equal(from_ids.ravel(), expected)
    np.testing.assert_array_equal(from_polygons, [list(range(19)) + [255] * 2])
