"""PASCAL-Context: trainval/*.mat -> converter -> PC-59 and PC-459."""
import numpy as np
import pytest

from mrovseg_mmseg.datasets import (PascalContext59Dataset,
                                    PascalContext459Dataset)
from .fakes import fake_pascal_context, write_label
from .helpers import build

IGNORE = 65535
# Full labels: 0 unlabelled, 2 aeroplane, 458 wood, 300 a class outside
# PC-59, 459 the last class.
LABEL_MAP = np.array([[0, 2, 458, 300], [459, 2, 0, 1]], dtype=np.uint16)


def prepare(tmp_path, converter, label_maps=None, **kwargs):
    root = tmp_path / 'VOCdevkit' / 'VOC2010'
    fake_pascal_context(root, label_maps or {'2008_000002': LABEL_MAP},
                        **kwargs)
    converter('pascal_context').main([str(root)])
    return root


def build_split(dataset_cls, root, seg_dir, **kwargs):
    return dataset_cls(
        data_root=str(root),
        ann_file='ImageSets/SegmentationContext/val.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path=seg_dir),
        pipeline=[
            dict(type='LoadImageChecked'),
            dict(type='LoadAnnotations16')
        ],
        test_mode=True,
        **kwargs)


def test_pc59_and_pc459_from_the_full_annotation(tmp_path, converter):
    root = prepare(tmp_path, converter)
    assert (root / 'ImageSets/SegmentationContext/val.txt').read_text() == (
        '2008_000002\n')
    pc59 = build_split(PascalContext59Dataset, root,
                       'SegmentationClassContext')
    gt59 = pc59[0]['gt_seg_map']
    # 0 and the non-PC-59 class 300 are background -> ignored;
    # aeroplane -> 0, wood -> 58; accordion (1) is not a PC-59 class.
    np.testing.assert_array_equal(gt59,
                                  [[255, 0, 58, 255], [255, 0, 255, 255]])
    pc459 = build_split(PascalContext459Dataset, root,
                        'SegmentationClassContext459')
    gt459 = pc459[0]['gt_seg_map']
    assert gt459.dtype == np.uint16
    np.testing.assert_array_equal(gt459,
                                  [[IGNORE, 1, 457, 299], [458, 1, IGNORE, 0]])
    assert PascalContext459Dataset.METAINFO['classes'][457] == 'wood'
    assert PascalContext59Dataset.METAINFO['classes'][58] == 'wood'


def test_label_outside_459_names_file_and_value(tmp_path, converter,
                                                preparation_error):
    bad = LABEL_MAP.copy()
    bad[0, 0] = 460
    with pytest.raises(preparation_error) as err:
        prepare(tmp_path, converter, {'2008_000002': bad})
    assert 'trainval/2008_000002.mat holds value 460' in str(err.value)


def test_missing_mat_file_is_named(tmp_path, converter, preparation_error):
    root = tmp_path / 'VOC2010'
    fake_pascal_context(root, {'2008_000002': LABEL_MAP})
    (root / 'trainval' / '2008_000002.mat').unlink()
    with pytest.raises(
            preparation_error,
            match=f'missing label file {root}/trainval/2008_000002.mat'):
        converter('pascal_context').main([str(root)])


def test_labels_txt_with_other_names_is_refused(tmp_path, converter,
                                                preparation_error):
    root = tmp_path / 'VOC2010'
    fake_pascal_context(root, {'2008_000002': LABEL_MAP})
    (root / 'labels.txt').write_text('1: accordion\n2: airplane\n')
    with pytest.raises(
            preparation_error,
            match="label 2 is 'airplane', expected 'aeroplane'"):
        converter('pascal_context').main([str(root)])


def test_without_labels_txt_and_with_train_split(tmp_path, converter):
    root = tmp_path / 'VOC2010'
    fake_pascal_context(
        root, {'2008_000003': LABEL_MAP}, split='train', labels_txt=False)
    fake_pascal_context(root, {'2008_000002': LABEL_MAP}, labels_txt=False)
    converter('pascal_context').main([str(root), '--splits', 'train', 'val'])
    for split in ('train', 'val'):
        assert (root / f'ImageSets/SegmentationContext/{split}.txt').is_file()


def test_pc459_dataset_names_value_outside_classes(tmp_path, converter):
    root = prepare(tmp_path, converter)
    label = root / 'SegmentationClassContext459' / '2008_000002.tif'
    write_label(label, np.array([[459, IGNORE]], dtype=np.uint16))
    dataset = build(PascalContext459Dataset, root, 'JPEGImages',
                    'SegmentationClassContext459')
    with pytest.raises(ValueError, match=f'{label} holds value 459'):
        dataset[0]
