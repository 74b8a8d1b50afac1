"""Write a comparable evaluation report beside the test log.

After ``runner.test()``, ``<work_dir>/<timestamp>/report.json`` and
``report.md`` hold the metrics, the per-class table of the first
``IoUMetric`` of the test evaluator (kept by
:class:`ClassTableRecorder`, not computed again) and what identifies the
measurement (:mod:`mrovseg_mmseg.evaluation.report`). ``tools/test.py``
adds this hook to every run.
"""
from typing import Dict, List, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import HOOKS

from ...evaluation.class_table import ClassTableRecorder
from ...evaluation.report import build_report, write_report


@HOOKS.register_module()
class EvaluationReportHook(Hook):
    """Writes ``report.json`` and ``report.md`` into ``runner.log_dir``.

    The checkpoint is the config's ``load_from``.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._recorders: List[ClassTableRecorder] = []

    def before_test(self, runner) -> None:
        self._recorders = [
            ClassTableRecorder(metric)
            for metric in runner.test_evaluator.metrics
            if isinstance(metric, IoUMetric)
        ]

    def after_test_epoch(self,
                         runner,
                         metrics: Optional[Dict[str, float]] = None) -> None:
        for recorder in self._recorders:
            recorder.remove()
        recorded = [rec for rec in self._recorders if rec.table is not None]
        self._recorders = []
        if not is_main_process():
            return
        report = build_report(
            metrics=metrics or {},
            dataset=runner.test_dataloader.dataset,
            cfg=runner.cfg,
            checkpoint=runner.cfg.get('load_from'),
            table=recorded[0].table if recorded else None,
            unseen=getattr(recorded[0].metric, 'unseen_classes',
                           ()) if recorded else (),
            precision=loop_precision(runner.test_loop))
        paths = write_report(report, runner.log_dir)
        print_log(
            f'evaluation report: {paths[0]}, {paths[1]}', logger='current')


def loop_precision(loop) -> str:
    """PrecisionTestLoop's precision; for mmengine's TestLoop, 'fp32' or
    'fp16=True'."""
    precision = getattr(loop, 'precision', None)
    if precision is not None:
        return precision
    return 'fp16=True' if getattr(loop, 'fp16', False) else 'fp32'
