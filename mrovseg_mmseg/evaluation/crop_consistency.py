"""mIoU of a model on non-square crops of its test images, against its
predictions for the whole images on the same pixels.

A crop keeps part of one side of each image at the same scale: the same
pixels are seen, only the image's aspect (and so the padding of the global
view and of the slice canvas) changes, and some context is lost. Both scores
of a crop are taken on the same pixels and labels: the model's prediction
for the crop, and its prediction for the whole image cut to the crop. A model
whose predictions stay on their pixels scores about the same on both; one
that stretches its masks over the padding scores lower on the crops.
"""
from typing import Dict, NamedTuple, Sequence, Tuple

import torch
from mmseg.evaluation import IoUMetric
from mmseg.structures import SegDataSample

# (axis, kept fraction, anchor): windows keeping 77% or 60% of the width
# ('w') or height ('h') at the start or the end of it
Crop = Tuple[str, float, str]
DEFAULT_CROPS: Tuple[Crop, ...] = tuple(
    (axis, keep, anchor) for axis in ('w', 'h') for keep in (0.77, 0.6)
    for anchor in ('start', 'end'))


class CropScore(NamedTuple):
    """Scores (percent) on one crop's pixels."""
    cropped: float  # mIoU predicted from the crop alone
    whole: float  # mIoU predicted from the whole image, cut to the crop
    agreement: float  # pixels where the two predictions are the same label


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


def _predict(model, image: torch.Tensor) -> torch.Tensor:
    """(1, H, W) labels of ``model.predict`` for a (3, H, W) uint8 image."""
    sample = SegDataSample()
    sample.set_metainfo(dict(img_shape=tuple(image.shape[-2:]),
                             ori_shape=tuple(image.shape[-2:])))
    data = model.data_preprocessor(
        dict(inputs=[image.contiguous()], data_samples=[sample]), False)
    return model.predict(data['inputs'],
                         data['data_samples'])[0].pred_sem_seg.data


@torch.no_grad()
def crop_consistency(model, dataset,
                     crops: Sequence[Crop] = DEFAULT_CROPS
                     ) -> Dict[Crop, CropScore]:
    """mmseg mIoU per crop over a test dataset, cropped vs whole input, and
    the share of the crop's pixels on which the two predictions agree.

    Args:
        model: an MROVSeg in eval mode with its test vocabulary set.
        dataset: a dataset whose items are packed by ``PackSegInputs``
            (``inputs`` (3, H, W) uint8, ``data_samples`` with
            ``gt_sem_seg``), e.g. ``runner.test_dataloader.dataset``.
        crops: windows to score.

    Returns:
        A :class:`CropScore` per crop.
    """
    metrics = {}
    same, total = dict.fromkeys(crops, 0), dict.fromkeys(crops, 0)
    for window in crops:
        for source in ('cropped', 'whole'):
            metric = IoUMetric(iou_metrics=['mIoU'])
            metric.dataset_meta = dict(classes=dataset.metainfo['classes'])
            metrics[window, source] = metric
    for index in range(len(dataset)):
        item = dataset[index]
        whole = _predict(model, item['inputs'])
        for window in crops:
            labels = crop(item['data_samples'].gt_sem_seg.data, window)
            predictions = dict(cropped=_predict(model,
                                                crop(item['inputs'], window)),
                               whole=crop(whole, window))
            same[window] += int((predictions['cropped'] ==
                                 predictions['whole']).sum())
            total[window] += predictions['whole'].numel()
            for source, pred in predictions.items():
                metrics[window, source].process({}, [
                    dict(pred_sem_seg=dict(data=pred),
                         gt_sem_seg=dict(data=labels))
                ])
    scores = {}
    for window in crops:
        miou = [
            float(metrics[window, source].compute_metrics(
                metrics[window, source].results)['mIoU'])
            for source in ('cropped', 'whole')
        ]
        scores[window] = CropScore(*miou,
                                   100.0 * same[window] / total[window])
    return scores
