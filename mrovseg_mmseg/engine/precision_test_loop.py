"""mmengine's TestLoop with a precision: ``tools/test.py --precision``.

mmengine's ``TestLoop(fp16=True)`` autocasts the whole test step to the
device's default (float16 on CUDA, bfloat16 on CPU), the scoring of the
label maps included. :class:`PrecisionTestLoop` takes the precision by
name and checks it with
:func:`~mrovseg_mmseg.utils.precision.check_precision`; ``MROVSeg.predict``
resizes and scores the mask logits in float32 under any autocast.
"""
from typing import Dict, List, Sequence, Union

import torch
from mmengine.evaluator import Evaluator
from mmengine.runner import TestLoop
from mmseg.registry import LOOPS
from torch.utils.data import DataLoader

from ..utils.precision import check_precision, precision_autocast


@LOOPS.register_module()
class PrecisionTestLoop(TestLoop):
    """Test at ``precision``: ``'fp32'`` (mmengine's TestLoop unchanged),
    ``'bf16'`` or ``'fp16'`` (autocast).

    The whole test step runs under autocast, as mmengine's ``fp16=True``.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List],
                 precision: str = 'fp32'):
        super().__init__(runner, dataloader, evaluator)
        self.device = _model_device(runner.model)
        self.precision = check_precision(precision, self.device)

    @torch.no_grad()
    def run_iter(self, idx, data_batch: Sequence[dict]) -> None:
        self.runner.call_hook(
            'before_test_iter', batch_idx=idx, data_batch=data_batch)
        outputs = self.test_step(data_batch)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook(
            'after_test_iter',
            batch_idx=idx,
            data_batch=data_batch,
            outputs=outputs)

    def test_step(self, data_batch: Sequence[dict]) -> list:
        """The model's predictions for one batch at the loop's precision."""
        model = self.runner.model
        if self.precision == 'fp32':
            return model.test_step(data_batch)
        with precision_autocast(self.precision, self.device):
            return model.test_step(data_batch)


def _model_device(model) -> torch.device:
    parameter = next(model.parameters(), None)
    return torch.device('cpu') if parameter is None else parameter.device
