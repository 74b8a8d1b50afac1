"""VOC-20: official palette PNGs checked, background and boundary ignored."""
import numpy as np
import pytest

from mrovseg_mmseg.datasets import PascalVOC20Dataset
from .fakes import fake_voc2012

LABELS = np.array([[0, 1, 20, 255], [15, 15, 0, 255]], dtype=np.uint8)


def build_voc(root):
    return PascalVOC20Dataset(
        data_root=str(root),
        ann_file='ImageSets/Segmentation/val.txt',
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        pipeline=[
            dict(type='LoadImageChecked'),
            dict(type='LoadAnnotations16')
        ],
        test_mode=True)


def test_voc20_checked_and_background_ignored(tmp_path, converter):
    root = tmp_path / 'VOC2012'
    fake_voc2012(root, {'2007_000033': LABELS})
    converter('voc').main([str(root)])
    gt = build_voc(root)[0]['gt_seg_map']
    # background 0 -> ignore, aeroplane 1 -> 0, tvmonitor 20 -> 19,
    # person 15 -> 14, boundary 255 stays ignored.
    np.testing.assert_array_equal(gt, [[255, 0, 19, 255], [14, 14, 255, 255]])
    assert PascalVOC20Dataset.METAINFO['classes'][14] == 'person'


def test_value_21_names_file_and_value(tmp_path, converter, preparation_error):
    root = tmp_path / 'VOC2012'
    bad = LABELS.copy()
    bad[0, 0] = 21
    fake_voc2012(root, {'2007_000033': bad})
    label = root / 'SegmentationClass' / '2007_000033.png'
    with pytest.raises(preparation_error, match=f'{label} holds value 21'):
        converter('voc').main([str(root)])
    with pytest.raises(ValueError, match=f'{label} holds value 21'):
        build_voc(root)[0]


def test_missing_label_and_image_are_named(tmp_path, converter,
                                           preparation_error):
    root = tmp_path / 'VOC2012'
    fake_voc2012(root, {'2007_000033': LABELS, '2007_000042': LABELS})
    label = root / 'SegmentationClass' / '2007_000042.png'
    label.unlink()
    with pytest.raises(preparation_error, match=f'missing label file {label}'):
        converter('voc').main([str(root)])
    with pytest.raises(FileNotFoundError, match=str(label)):
        build_voc(root)
    image = root / 'JPEGImages' / '2007_000033.jpg'
    image.unlink()
    with pytest.raises(preparation_error, match=f'missing image {image}'):
        converter('voc').main([str(root)])
