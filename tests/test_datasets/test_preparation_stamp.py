"""The PC-459 and ADE-847 preparation scripts leave a stamp naming them,
their version and their options in each label folder they fill."""
import numpy as np
import pytest

from mrovseg_mmseg.datasets.preparation import STAMP_FILE, read_stamp
from .fakes import ADE_WALL, fake_ade847, fake_pascal_context


def test_pascal_context_stamps_both_label_folders(tmp_path, converter):
    root = tmp_path / 'VOC2010'
    fake_pascal_context(root, {'2008_000002': np.array([[0, 2], [459, 1]])})
    script = converter('pascal_context')
    script.main([str(root)])
    for folder in ('SegmentationClassContext', 'SegmentationClassContext459'):
        assert read_stamp(root / folder) == dict(
            script='pascal_context.py',
            version=script.PREPARATION_VERSION,
            options={})


def test_ade847_stamp_holds_the_options(tmp_path, converter):
    root = tmp_path / 'ADE20K_2021_17_01'
    root.mkdir()
    fake_ade847(root, {'ADE_val_00000001.jpg': np.array([[ADE_WALL, 0]])})
    script = converter('ade20k_847')
    script.main([str(root), '--max-short-side', '256'])
    assert read_stamp(root / 'annotations_847' / 'validation') == dict(
        script='ade20k_847.py',
        version=script.PREPARATION_VERSION,
        options=dict(
            max_short_side=256, jpeg_quality=75, skip_name_check=False))
    assert not (root / 'annotations_847' / 'training').exists()


def test_no_stamp_and_a_broken_stamp(tmp_path):
    assert read_stamp(tmp_path) is None
    (tmp_path / STAMP_FILE).write_text('[1, 2]')
    with pytest.raises(ValueError, match=str(tmp_path / STAMP_FILE)):
        read_stamp(tmp_path)
