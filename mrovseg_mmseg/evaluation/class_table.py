"""The per-class values of an mmseg ``IoUMetric``, kept for a report.

``IoUMetric.compute_metrics`` logs its per-class table and returns only the
means. mmseg computes that table with the metric's
``total_area_to_metrics``, which turns the summed areas into per-class
IoU, Acc (and Dice, Fscore... when asked for); the recorder keeps what it
returns instead of computing anything again.
"""
from typing import Dict, Optional

import numpy as np
from mmseg.evaluation import IoUMetric


class ClassTableRecorder:
    """Keeps the per-class table of one metric's next evaluations.

    While the metric's ``compute_metrics`` runs, its
    ``total_area_to_metrics`` is shadowed on this instance by a function
    that calls it and keeps its first result: the whole-image table
    (:class:`OpenVocabIoUMetric` calls it again afterwards for its size
    splits). ``table`` maps each per-class key (``IoU``, ``Acc``...) to the
    (K, ) values of mmseg's logged table: percent, rounded to two decimals,
    NaN where a class is in neither label nor prediction.

    Args:
        metric: the metric to follow; :meth:`remove` restores it.
    """

    def __init__(self, metric: IoUMetric) -> None:
        self.metric = metric
        self.table: Optional[Dict[str, np.ndarray]] = None
        self._compute_metrics = metric.compute_metrics
        metric.compute_metrics = self._recording

    def _recording(self, results: list) -> dict:
        to_metrics = self.metric.total_area_to_metrics
        found = []

        def keep_first(*args, **kwargs):
            values = to_metrics(*args, **kwargs)
            if not found:
                found.append(dict(values))
            return values

        self.metric.total_area_to_metrics = keep_first
        try:
            return self._compute_metrics(results)
        finally:
            del self.metric.total_area_to_metrics
            if found:
                self.table = {
                    key: np.round(value * 100, 2)
                    for key, value in found[0].items() if key != 'aAcc'
                }

    def remove(self) -> None:
        """Give the metric back its own ``compute_metrics``."""
        if vars(self.metric).get('compute_metrics') == self._recording:
            del self.metric.compute_metrics
