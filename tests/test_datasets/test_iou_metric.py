"""mmseg's IoUMetric against hand-computed mIoU, with 255 and 65535 ignore."""
import numpy as np
import pytest
import torch
from mmseg.evaluation import IoUMetric

from mrovseg_mmseg.datasets import ADE847Dataset


def score(gt, pred, classes, ignore_index):
    metric = IoUMetric(ignore_index=ignore_index, iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=classes)
    sample = dict(
        pred_sem_seg=dict(data=torch.tensor([pred], dtype=torch.int64)),
        gt_sem_seg=dict(data=torch.tensor([gt], dtype=torch.int64)))
    metric.process({}, [sample])
    return metric.evaluate(1)


def test_three_classes_with_ignore_255():
    gt = [[0, 0, 1, 255], [2, 2, 1, 1]]
    pred = [[0, 1, 1, 2], [2, 0, 1, 1]]
    # Per class (intersection / union over the 7 labelled pixels):
    # 0: 1/3, 1: 3/4, 2: 1/2 (the prediction on the ignored pixel is
    # not counted); pixel accuracy 5/7.
    expected_miou = (1 / 3 + 3 / 4 + 1 / 2) / 3
    result = score(gt, pred, ('a', 'b', 'c'), 255)
    assert result['mIoU'] == pytest.approx(round(100 * expected_miou, 2))
    assert result['aAcc'] == pytest.approx(round(100 * 5 / 7, 2))


def test_847_classes_with_ignore_65535_score_ids_above_255():
    gt = [[300, 300, 846, 65535], [0, 300, 846, 846]]
    # 44 is 300 wrapped to uint8: predicting it counts as an error.
    pred = [[300, 44, 846, 300], [0, 300, 300, 846]]
    # 300: I 2 / U 4; 846: 2 / 3; 0: 1 / 1; 44: 0 / 1; the other 843
    # classes appear nowhere (NaN, left out of the mean).
    expected_miou = (2 / 4 + 2 / 3 + 1 + 0) / 4
    result = score(gt, pred, ADE847Dataset.METAINFO['classes'], 65535)
    assert result['mIoU'] == pytest.approx(round(100 * expected_miou, 2))
    assert result['aAcc'] == pytest.approx(round(100 * 5 / 7, 2))


def test_histogram_bins_hold_exactly_their_class():
    """Every id 0..846 lands in its own bin, the ignored value in none."""
    ids = torch.arange(847).repeat(2)
    label = torch.cat([ids, torch.tensor([65535] * 5)])
    pred = torch.cat([(ids + 1) % 847, torch.tensor([3] * 5)])
    intersect, union, area_pred, area_label = IoUMetric.intersect_and_union(
        pred, label, 847, 65535)
    np.testing.assert_array_equal(area_label.numpy(), np.full(847, 2))
    np.testing.assert_array_equal(area_pred.numpy(), np.full(847, 2))
    assert intersect.sum() == 0  # every prediction is the next class
    np.testing.assert_array_equal(union.numpy(), np.full(847, 4))
