"""The material world's evaluator: seen / unseen / harmonic mIoU and the
small / large object split, checked by hand and against mmseg's IoUMetric on
restricted labels."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

from mrovseg_mmseg.datasets.material_world import (MATERIAL_CLASSES,
                                                   MaterialWorldDataset)
from mrovseg_mmseg.evaluation.open_vocab_metric import (harmonic_mean,
                                                        small_object_zone)

CONFIG = (Path(__file__).resolve().parents[2] /
          'configs/_base_/datasets/material_world64.py')


def _sample(gt, pred):
    return dict(
        pred_sem_seg=dict(data=torch.as_tensor(pred)[None].long()),
        gt_sem_seg=dict(data=torch.as_tensor(gt)[None].long()))


def _evaluate(metric, pairs):
    metric.dataset_meta = MaterialWorldDataset.METAINFO
    for gt, pred in pairs:
        metric.process({}, [_sample(gt, pred)])
    return metric.evaluate(len(pairs))


def _mmseg_miou(pairs):
    metric = IoUMetric()
    metric.dataset_meta = MaterialWorldDataset.METAINFO
    for gt, pred in pairs:
        metric.process({}, [_sample(gt, pred)])
    return metric.evaluate(len(pairs))['mIoU']


def test_small_object_zone_by_hand():
    label = np.zeros((12, 12), np.int64)
    label[2:4, 2:4] = 1  # 4 px: small
    label[6:12, 0:12] = 2  # 72 px: large
    label[0, 11] = 255
    zone = small_object_zone(label, small_area=10, margin=1, ignore_index=255)
    expected = np.zeros((12, 12), bool)
    expected[1:5, 1:5] = True
    np.testing.assert_array_equal(zone, expected)
    # the 8-connected diagonal neighbour joins a segment: 2 + 2 px in one
    label[5, 5] = 3
    label[4, 4] = 3
    zone = small_object_zone(label, small_area=2, margin=0, ignore_index=255)
    assert not zone.any()


def test_harmonic_mean():
    assert harmonic_mean(60.0, 20.0) == pytest.approx(30.0)
    assert harmonic_mean(0.0, 0.0) == 0.0
    assert np.isnan(harmonic_mean(float('nan'), 5.0))


def test_config_splits_classes_like_the_generator():
    from mrovseg_mmseg.datasets.material_world import (SEEN_CLASSES,
                                                       UNSEEN_CLASSES)
    cfg = Config.fromfile(CONFIG)
    assert tuple(cfg.seen_classes) == SEEN_CLASSES
    assert tuple(cfg.val_evaluator.unseen_classes) == UNSEEN_CLASSES
    assert tuple(cfg.train_dataloader.dataset.metainfo.classes) == SEEN_CLASSES


def test_seen_unseen_and_size_split_against_mmseg():
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(3):
        gt = np.full((24, 24), MATERIAL_CLASSES.index('grass'))
        gt[12:, :] = MATERIAL_CLASSES.index('water')  # unseen, large
        gt[3:6, 3:6] = MATERIAL_CLASSES.index('lava')  # seen, small
        gt[15:17, 15:18] = MATERIAL_CLASSES.index('wood')  # unseen, small
        gt[0, :4] = 255
        pred = gt.copy()
        noise = rng.random(gt.shape) < 0.2
        pred[noise] = rng.integers(0, len(MATERIAL_CLASSES), noise.sum())
        pred[gt == 255] = 0
        pairs.append((gt, pred))
    cfg = Config.fromfile(CONFIG)
    result = _evaluate(METRICS.build(cfg.val_evaluator), pairs)
    # whole-image mIoU is mmseg's
    assert result['mIoU'] == pytest.approx(_mmseg_miou(pairs))
    # size split: mmseg's mIoU with everything outside the zone ignored
    small, large = [], []
    for gt, pred in pairs:
        zone = small_object_zone(gt, 256 * 24 * 24 // 4096, 2, 255)
        small.append((np.where(zone, gt, 255), pred))
        large.append((np.where(zone, 255, gt), pred))
    assert result['mIoU_small'] != pytest.approx(result['mIoU_large'])
    # the config's small_area is for 64 px scenes; rebuild for 24 px
    metric = METRICS.build(
        dict(cfg.val_evaluator, small_area=256 * 24 * 24 // 4096))
    resized = _evaluate(metric, pairs)
    assert resized['mIoU_small'] == pytest.approx(_mmseg_miou(small),
                                                  abs=0.01)
    assert resized['mIoU_large'] == pytest.approx(_mmseg_miou(large),
                                                  abs=0.01)
    # seen / unseen: per-class IoU from mmseg's totals, averaged by group
    metric = IoUMetric()
    metric.dataset_meta = MaterialWorldDataset.METAINFO
    for gt, pred in pairs:
        metric.process({}, [_sample(gt, pred)])
    totals = [sum(part) for part in zip(*metric.results)]
    iou = IoUMetric.total_area_to_metrics(*totals, ['mIoU'])['IoU']
    unseen = [MATERIAL_CLASSES.index(n) for n in cfg.unseen_classes]
    seen = [i for i in range(len(MATERIAL_CLASSES)) if i not in unseen]
    seen_miou = 100 * np.nanmean(iou[seen])
    unseen_miou = 100 * np.nanmean(iou[unseen])
    assert result['mIoU_seen'] == pytest.approx(seen_miou, abs=0.01)
    assert result['mIoU_unseen'] == pytest.approx(unseen_miou, abs=0.01)
    assert result['hIoU'] == pytest.approx(
        2 * seen_miou * unseen_miou / (seen_miou + unseen_miou), abs=0.01)


def test_unknown_unseen_class_is_named():
    metric = METRICS.build(
        dict(type='OpenVocabIoUMetric', unseen_classes=['water', 'plasma']))
    with pytest.raises(ValueError, match="'plasma'"):
        _evaluate(metric, [(np.zeros((4, 4)), np.zeros((4, 4)))])
