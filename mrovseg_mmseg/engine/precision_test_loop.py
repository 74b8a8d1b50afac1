"""mmengine's TestLoop with a precision: ``tools/test.py --precision``.

mmengine's ``TestLoop(fp16=True)`` autocasts the whole test step to the
device's default (float16 on CUDA, bfloat16 on CPU), the scoring of the
label maps included. :class:`PrecisionTestLoop` takes the precision by
name, checks it with :func:`~mrovseg_mmseg.utils.precision.check_precision`,
and for an MROVSeg model autocasts only the network, as the inferencer does:
the mask logits are resized and scored in float32.
"""
import dataclasses
from typing import Dict, List, Sequence, Union

import torch
from mmengine.evaluator import Evaluator
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop
from mmseg.registry import LOOPS
from torch.utils.data import DataLoader

from ..models.segmentors.mrovseg import group_by_padding
from ..utils.precision import check_precision, precision_autocast


@LOOPS.register_module()
class PrecisionTestLoop(TestLoop):
    """Test at ``precision``: ``'fp32'`` (mmengine's TestLoop unchanged),
    ``'bf16'`` or ``'fp16'`` (autocast).

    A model with ``predict_masks`` and ``postprocess_masks`` (MROVSeg) runs
    its network under autocast and its postprocessing in float32
    (:func:`predict_scored_in_fp32`); any other model runs its whole test
    step under autocast, as mmengine's ``fp16=True``.
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
        segmentor = model.module if is_model_wrapper(model) else model
        if not (hasattr(segmentor, 'predict_masks')
                and hasattr(segmentor, 'postprocess_masks')):
            with precision_autocast(self.precision, self.device):
                return model.test_step(data_batch)
        data = segmentor.data_preprocessor(data_batch, False)
        return predict_scored_in_fp32(segmentor, data['inputs'],
                                      data['data_samples'], self.precision)


def predict_scored_in_fp32(model, inputs: torch.Tensor, data_samples: list,
                           precision: str) -> list:
    """``MROVSeg.predict`` with its network under autocast to
    ``precision`` and the mask resizing and scoring in float32.

    Args:
        model: an MROVSeg.
        inputs: (B, 3, H, W) batch from the data preprocessor.
        data_samples: its B samples.
    """
    results = [None] * inputs.shape[0]
    with torch.inference_mode():
        for indices, images in group_by_padding(inputs, data_samples):
            with precision_autocast(precision, images.device):
                output = model.predict_masks(images)
            output = dataclasses.replace(
                output,
                cls_logits=output.cls_logits.float(),
                mask_logits=output.mask_logits.float())
            samples = model.postprocess_masks(
                output, images.shape[-2:],
                [data_samples[i] for i in indices], padding_cropped=True)
            for index, sample in zip(indices, samples):
                results[index] = sample
    return results


def _model_device(model) -> torch.device:
    parameter = next(model.parameters(), None)
    return torch.device('cpu') if parameter is None else parameter.device
