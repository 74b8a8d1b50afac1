"""The evaluators of our dataset configs against hand-computed mIoU: the
ignore value each config sets (255, or 65535 for 16-bit labels) is left out
and class ids above 255 are scored as themselves."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import METRICS

from mrovseg_mmseg.datasets import ADE150Dataset, ADE847Dataset

CONFIGS = Path(__file__).resolve().parents[2] / 'configs/_base_/datasets'


def score(config, dataset_cls, gt, pred):
    metric = METRICS.build(Config.fromfile(CONFIGS / config).val_evaluator)
    metric.dataset_meta = dataset_cls.METAINFO
    sample = dict(
        pred_sem_seg=dict(data=torch.tensor([pred], dtype=torch.int64)),
        gt_sem_seg=dict(data=torch.tensor([gt], dtype=torch.int64)))
    metric.process({}, [sample])
    return metric.evaluate(1)


def test_ade150_evaluator_ignores_255():
    gt = [[0, 0, 1, 255], [2, 2, 1, 1]]
    pred = [[0, 1, 1, 2], [2, 0, 1, 1]]
    # Per class (intersection / union over the 7 labelled pixels):
    # 0: 1/3, 1: 3/4, 2: 1/2 (the prediction on the ignored pixel is
    # not counted); the other 147 classes appear nowhere (NaN, left out of
    # the mean); pixel accuracy 5/7.
    expected_miou = (1 / 3 + 3 / 4 + 1 / 2) / 3
    result = score('ade150.py', ADE150Dataset, gt, pred)
    assert result['mIoU'] == pytest.approx(round(100 * expected_miou, 2))
    assert result['aAcc'] == pytest.approx(round(100 * 5 / 7, 2))


def test_ade847_evaluator_ignores_65535_and_scores_ids_above_255():
    gt = [[300, 300, 846, 65535], [0, 300, 846, 846]]
    # 44 is 300 wrapped to uint8: predicting it counts as an error.
    pred = [[300, 44, 846, 300], [0, 300, 300, 846]]
    # 300: I 2 / U 4; 846: 2 / 3; 0: 1 / 1; 44: 0 / 1; the other 843
    # classes appear nowhere (NaN, left out of the mean).
    expected_miou = (2 / 4 + 2 / 3 + 1 + 0) / 4
    result = score('ade847.py', ADE847Dataset, gt, pred)
    assert result['mIoU'] == pytest.approx(round(100 * expected_miou, 2))
    assert result['aAcc'] == pytest.approx(round(100 * 5 / 7, 2))
