"""mIoU of a model on whole images and on non-square crops of them.

A crop keeps part of one side of each image at the same scale: the same
pixels are seen, only the image's aspect (and so the padding of the global
view and of the slice canvas) changes. A model whose predictions stay on
their pixels scores about the same on the crops as on the whole images.
"""
from typing import Dict, Sequence, Tuple

import torch
from mmseg.evaluation import IoUMetric
from mmseg.structures import SegDataSample

# (axis, kept fraction, anchor): the whole image, then windows keeping 77% or
# 60% of the width ('w') or height ('h') at the start or the end of it
Crop = Tuple[str, float, str]
WHOLE: Crop = ('w', 1.0, 'start')
DEFAULT_CROPS: Tuple[Crop, ...] = tuple(
    (axis, keep, anchor) for axis in ('w', 'h') for keep in (0.77, 0.6)
    for anchor in ('start', 'end'))


def crop(tensor: torch.Tensor, window: Crop) -> torch.Tensor:
    """The ``window`` of a (..., H, W) tensor."""
    axis, keep, anchor = window
    side = tensor.shape[-1] if axis == 'w' else tensor.shape[-2]
    length = max(1, round(keep * side))
    start = 0 if anchor == 'start' else side - length
    kept = slice(start, start + length)
    if axis == 'w':
        return tensor[..., kept]
    return tensor[..., kept, :]


@torch.no_grad()
def crop_consistency(model, dataset,
                     crops: Sequence[Crop] = DEFAULT_CROPS
                     ) -> Dict[Crop, float]:
    """mmseg mIoU of ``model.predict`` per crop over a test dataset.

    Args:
        model: an MROVSeg in eval mode with its test vocabulary set.
        dataset: a dataset whose items are packed by ``PackSegInputs``
            (``inputs`` (3, H, W) uint8, ``data_samples`` with
            ``gt_sem_seg``), e.g. ``runner.test_dataloader.dataset``.
        crops: windows to score besides the whole images.

    Returns:
        mIoU (percent) for :data:`WHOLE` and every crop.
    """
    windows = (WHOLE, ) + tuple(crops)
    metrics = {}
    for window in windows:
        metrics[window] = IoUMetric(iou_metrics=['mIoU'])
        metrics[window].dataset_meta = dict(
            classes=dataset.metainfo['classes'])
    for index in range(len(dataset)):
        item = dataset[index]
        for window in windows:
            image = crop(item['inputs'], window)
            labels = crop(item['data_samples'].gt_sem_seg.data, window)
            sample = SegDataSample()
            sample.set_metainfo(dict(img_shape=tuple(image.shape[-2:]),
                                     ori_shape=tuple(image.shape[-2:])))
            data = model.data_preprocessor(
                dict(inputs=[image.contiguous()], data_samples=[sample]),
                False)
            pred = model.predict(data['inputs'], data['data_samples'])[0]
            metrics[window].process({}, [
                dict(pred_sem_seg=dict(data=pred.pred_sem_seg.data),
                     gt_sem_seg=dict(data=labels))
            ])
    return {
        window: float(metric.compute_metrics(metric.results)['mIoU'])
        for window, metric in metrics.items()
    }
