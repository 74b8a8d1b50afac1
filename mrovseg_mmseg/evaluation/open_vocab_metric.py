"""mIoU over seen and unseen classes and over small and large objects."""
from collections import OrderedDict
from typing import Dict, Sequence

import cv2
import numpy as np
import torch
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS


def small_object_zone(label: np.ndarray, small_area: int, margin: int,
                      ignore_index: int) -> np.ndarray:
    """Pixels of small segments and the ``margin`` pixels around them.

    A segment is a connected (8-neighbour) region of one class in the label
    map; it is small when it has fewer than ``small_area`` pixels.

    Args:
        label: (H, W) integer label map.

    Returns:
        (H, W) bool mask.
    """
    zone = np.zeros(label.shape, np.uint8)
    for class_id in np.unique(label):
        if class_id == ignore_index:
            continue
        mask = (label == class_id).astype(np.uint8)
        count, segments, stats, _ = cv2.connectedComponentsWithStats(
            mask, connectivity=8)
        small = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] < small_area) + 1
        zone |= np.isin(segments, small).astype(np.uint8)
    if margin > 0:
        kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
        zone = cv2.dilate(zone, kernel)
    return zone.astype(bool)


def harmonic_mean(first: float, second: float) -> float:
    """2ab / (a + b); 0 when both are 0, NaN when either is NaN."""
    if np.isnan(first) or np.isnan(second):
        return float('nan')
    total = first + second
    return 0.0 if total == 0 else 2 * first * second / total


@METRICS.register_module()
class OpenVocabIoUMetric(IoUMetric):
    """mmseg's ``IoUMetric`` plus the zero-shot split and an object-size split.

    Adds to mmseg's ``aAcc``/``mIoU``:

    - ``mIoU_seen``, ``mIoU_unseen``: mean IoU over the classes segmentation
      training saw and over the ones it did not, and ``hIoU``, their harmonic
      mean (the zero-shot segmentation literature's summary).
    - ``mIoU_small``, ``mIoU_large``: mIoU counted only on the pixels of small
      segments (fewer than ``small_area`` pixels) and ``small_margin`` pixels
      around them, and only on the other pixels. Per-pixel intersections and
      unions are mmseg's own (``intersect_and_union``) on the restricted
      pixels, as in trimap evaluation.

    Args:
        unseen_classes: names of the classes held out of training; each must
            be one of the dataset's classes.
        small_area: segment area (label pixels) below which it is small.
        small_margin: pixels around small segments that count to them.
        **kwargs: ``IoUMetric`` arguments.
    """

    def __init__(self,
                 unseen_classes: Sequence[str] = (),
                 small_area: int = 256,
                 small_margin: int = 2,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.unseen_classes = tuple(unseen_classes)
        self.small_area = small_area
        self.small_margin = small_margin

    def _check_classes(self) -> None:
        classes = self.dataset_meta['classes']
        unknown = [name for name in self.unseen_classes if name not in classes]
        if unknown:
            raise ValueError(
                f'OpenVocabIoUMetric: unseen_classes {unknown} are not classes '
                f'of the evaluated dataset ({list(classes)}).')

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Whole-image, small-zone and large-zone areas per sample."""
        self._check_classes()
        num_classes = len(self.dataset_meta['classes'])
        for data_sample in data_samples:
            prediction = data_sample['pred_sem_seg']['data'].squeeze()
            label = data_sample['gt_sem_seg']['data'].squeeze().to(prediction)
            zone = torch.from_numpy(
                small_object_zone(label.cpu().numpy(), self.small_area,
                                  self.small_margin,
                                  self.ignore_index)).to(label.device)
            areas = [
                self.intersect_and_union(prediction, label, num_classes,
                                         self.ignore_index)
            ]
            for keep in (zone, ~zone):
                restricted = torch.where(keep, label,
                                         torch.full_like(label,
                                                         self.ignore_index))
                areas.append(
                    self.intersect_and_union(prediction, restricted,
                                             num_classes, self.ignore_index))
            self.results.append(tuple(areas))

    def _class_iou(self, areas: Sequence[tuple]) -> np.ndarray:
        """Per-class IoU (NaN for classes absent from label and prediction)."""
        intersect, union, pred_area, label_area = (sum(part)
                                                   for part in zip(*areas))
        return self.total_area_to_metrics(intersect, union, pred_area,
                                          label_area, ['mIoU'])['IoU']

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """mmseg's metrics and table, then the seen/unseen and size splits."""
        metrics = super().compute_metrics([whole for whole, _, _ in results])
        classes = list(self.dataset_meta['classes'])
        unseen = np.array([name in self.unseen_classes for name in classes])
        iou = self._class_iou([whole for whole, _, _ in results])
        split = OrderedDict()
        split['mIoU_seen'] = _mean(iou[~unseen])
        split['mIoU_unseen'] = _mean(iou[unseen])
        split['hIoU'] = harmonic_mean(split['mIoU_seen'],
                                      split['mIoU_unseen'])
        split['mIoU_small'] = _mean(self._class_iou([s for _, s, _ in results]))
        split['mIoU_large'] = _mean(self._class_iou([b for _, _, b in results]))
        split = {key: round(float(value), 2) for key, value in split.items()}
        print_log(
            'open-vocabulary summary: ' +
            '  '.join(f'{key} {value:.2f}' for key, value in split.items()),
            logger=MMLogger.get_current_instance())
        metrics.update(split)
        return metrics


def _mean(values: np.ndarray) -> float:
    """Mean in percent over the non-NaN entries; NaN when there are none."""
    values = values[~np.isnan(values)]
    return float(values.mean() * 100) if values.size else float('nan')
