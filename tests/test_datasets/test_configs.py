"""Each base dataset config builds its datasets on a prepared fake archive
and yields samples at the paper's resolutions."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import DATASETS

from .fakes import (ADE_ID_300, ADE_WALL, fake_ade150, fake_ade847,
                    fake_cityscapes_label_ids, fake_coco_stuff,
                    fake_pascal_context, fake_voc2012)

CONFIGS = Path(__file__).resolve().parents[2] / 'configs/_base_/datasets'
PC_LABELS = np.array([[0, 2, 458], [300, 459, 2]], dtype=np.uint16)


def prepare_coco(root, converter):
    fake_coco_stuff(root, splits=('train2017', 'val2017'))
    converter('coco_stuff164k').main([str(root)])


def prepare_ade150(root, converter):
    fake_ade150(root, splits=('training', 'validation'))


def prepare_ade847(root, converter):
    root.mkdir(parents=True)
    classes = np.array([[ADE_WALL, ADE_ID_300, 0], [0, ADE_ID_300, 7]])
    fake_ade847(root, {
        'ADE_val_00000001.jpg': classes,
        'ADE_train_00000001.jpg': classes
    })
    converter('ade20k_847').main(
        [str(root), '--splits', 'training', 'validation'])


def prepare_pascal_context(root, converter):
    fake_pascal_context(root, {'2008_000003': PC_LABELS}, split='train')
    fake_pascal_context(root, {'2008_000002': PC_LABELS}, split='val')
    converter('pascal_context').main([str(root), '--splits', 'train', 'val'])


def prepare_voc(root, converter):
    labels = np.array([[0, 1, 20], [255, 15, 15]], dtype=np.uint8)
    fake_voc2012(root, {'2007_000032': labels}, split='train')
    fake_voc2012(root, {'2007_000033': labels}, split='val')


def prepare_cityscapes(root, converter):
    label_ids = np.array([[7, 26, 0, 33], [24, 9, 23, 7]], dtype=np.uint8)
    fake_cityscapes_label_ids(root, 'train', 'aachen_000000_000019', label_ids)
    fake_cityscapes_label_ids(root, 'val', 'aachen_000001_000019', label_ids)
    converter('cityscapes').main([str(root), '--splits', 'train', 'val'])


CASES = {
    'coco_stuff171': prepare_coco,
    'ade150': prepare_ade150,
    'ade847': prepare_ade847,
    'pascal_context59': prepare_pascal_context,
    'pascal_context459': prepare_pascal_context,
    'voc20': prepare_voc,
    'cityscapes19': prepare_cityscapes,
}


def test_every_benchmark_config_is_tested():
    names = {path.stem for path in CONFIGS.glob('*.py')}
    # the generated datasets have their own tests (test_material_world.py,
    # test_object_naming_metric.py, tests/test_training)
    generated = {'synthetic_shapes64', 'material_world64',
                 'detail_twin_world64'}
    assert names - generated == set(CASES)


@pytest.mark.parametrize('name', sorted(CASES))
def test_config_builds_and_loads(name, tmp_path, converter):
    cfg = Config.fromfile(str(CONFIGS / f'{name}.py'))
    root = tmp_path / 'data'
    CASES[name](root, converter)
    dataset_cls = DATASETS.get(cfg.dataset_type)
    assert cfg.val_evaluator.ignore_index == dataset_cls.IGNORE_INDEX
    assert cfg.ignore_index == dataset_cls.IGNORE_INDEX
    high_res = name == 'cityscapes19'

    val_cfg = cfg.val_dataloader.dataset
    val_cfg.data_root = str(root)
    val = DATASETS.build(val_cfg)
    packed = val[0]
    gt = packed['data_samples'].gt_sem_seg.data
    height, width = packed['data_samples'].ori_shape
    assert gt.shape == (1, height, width) and gt.dtype == torch.int64
    valid = (gt == dataset_cls.IGNORE_INDEX) | (
        gt < len(val.metainfo['classes']))
    assert bool(valid.all())
    if high_res:
        assert packed['inputs'].shape[1:] == (1024, 2048)
    else:
        assert min(packed['inputs'].shape[1:]) == 640

    train_cfg = cfg.train_dataloader.dataset
    train_cfg.data_root = str(root)
    train = DATASETS.build(train_cfg)
    packed = train[0]
    # At most the 640x640 crop (smaller when the resized image is).
    channels, height, width = packed['inputs'].shape
    assert channels == 3 and max(height, width) <= 640
    assert packed['data_samples'].gt_sem_seg.data.shape == (1, height, width)
