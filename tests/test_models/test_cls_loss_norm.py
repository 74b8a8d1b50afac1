"""Losses of the head against PyTorch and hand-written formulas."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData

from mrovseg_mmseg.models.decode_heads.mrovseg_head import (HeadOutput,
                                                            MROVSegHead)

NUM_CLASSES = 3
NUM_QUERIES = 8
NO_OBJECT_WEIGHT = 0.1
CLS_LOSS_WEIGHT = 2.0  # loss_weight of the head's default loss_cls
SIZE = 16
# per image: (query, class, mask rows, mask columns) of each segment; the
# query predicts that mask exactly and every other query predicts nothing, so
# the Hungarian assignment is known
SEGMENTS = [
    [(1, 0, slice(0, 16), slice(0, 8)), (5, 2, slice(0, 16), slice(8, 16))],
    [(2, 1, slice(0, 8), slice(0, 16))],
]


def make_head(**kwargs) -> MROVSegHead:
    return MROVSegHead(embed_dims=32, clip_heads=4, clip_dims=64,
                       clip_proj_dims=32, num_queries=NUM_QUERIES,
                       decoder_layers=(4, 2, 0), num_points=64,
                       no_object_weight=NO_OBJECT_WEIGHT, **kwargs)


def hand_built_case():
    """Predictions, ground truth and the target class of every query."""
    generator = torch.Generator().manual_seed(0)
    batch = len(SEGMENTS)
    cls_logits = 2 * torch.randn(batch, NUM_QUERIES, NUM_CLASSES + 1,
                                 generator=generator)
    mask_logits = torch.full((batch, NUM_QUERIES, SIZE, SIZE), -10.0)
    targets = torch.full((batch, NUM_QUERIES), NUM_CLASSES)
    gt_instances = []
    for image, segments in enumerate(SEGMENTS):
        masks = torch.zeros(len(segments), SIZE, SIZE)
        for index, (query, label, rows, cols) in enumerate(segments):
            masks[index, rows, cols] = 1
            mask_logits[image, query, rows, cols] = 10.0
            targets[image, query] = label
        labels = torch.tensor([label for _, label, _, _ in segments])
        gt_instances.append(InstanceData(labels=labels, masks=masks))
    output = HeadOutput(cls_logits=cls_logits, mask_logits=mask_logits)
    return output, gt_instances, targets


def class_weights(no_object_class: int) -> torch.Tensor:
    """1 per class, NO_OBJECT_WEIGHT on ``no_object_class``."""
    weight = torch.ones(NUM_CLASSES + 1)
    weight[no_object_class] = NO_OBJECT_WEIGHT
    return weight


def weighted_mean(cls_logits, targets, weight):
    """PyTorch's weighted mean, as the official Mask2Former and SAN."""
    return CLS_LOSS_WEIGHT * F.cross_entropy(
        cls_logits.flatten(0, 1), targets.flatten(), weight=weight)


def plain_mean(cls_logits, targets, weight):
    """sum_i w_i ce_i / (B * N), written out."""
    log_probs = cls_logits.flatten(0, 1).log_softmax(-1)  # (BN, K + 1)
    flat_targets = targets.flatten()  # (B, N) -> (BN, )
    ce = -log_probs[torch.arange(flat_targets.numel()), flat_targets]
    return CLS_LOSS_WEIGHT * (weight[flat_targets] * ce).sum() / ce.numel()


@pytest.mark.parametrize('norm,expected_fn', [('weighted_mean', weighted_mean),
                                              ('mean', plain_mean)])
def test_class_loss_value(norm, expected_fn):
    output, gt_instances, targets = hand_built_case()
    head = make_head(cls_loss_norm=norm)
    loss = head.loss_by_feat(output, gt_instances)['loss_cls_ce']
    expected = expected_fn(output.cls_logits, targets,
                           class_weights(NUM_CLASSES))
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=0)
    # the check looks at the weights: with 0.1 on class 0 instead of on the
    # no-object class the value would be far off
    wrong = expected_fn(output.cls_logits, targets, class_weights(0))
    assert abs(float(wrong - loss)) > 0.1 * float(loss)


def test_weighted_mean_is_default_and_larger():
    output, gt_instances, _ = hand_built_case()
    default = make_head().loss_by_feat(output, gt_instances)['loss_cls_ce']
    weighted = make_head(cls_loss_norm='weighted_mean').loss_by_feat(
        output, gt_instances)['loss_cls_ce']
    mean = make_head(cls_loss_norm='mean').loss_by_feat(
        output, gt_instances)['loss_cls_ce']
    torch.testing.assert_close(default, weighted)
    # 16 queries, 3 matched: sum of weights 3 + 13 x 0.1 = 4.3
    torch.testing.assert_close(weighted / mean, torch.tensor(16 / 4.3),
                               rtol=1e-5, atol=0)


def test_unknown_normalization_is_refused():
    with pytest.raises(ValueError, match="cls_loss_norm='sum'"):
        make_head(cls_loss_norm='sum')


def test_mask_losses_are_5x_sigmoid_ce_and_5x_dice():
    """The default mask losses on point logits: 5 x binary cross-entropy
    averaged over points and 5 x dice of the sigmoid (smoothed by 1)
    averaged over masks."""
    head = make_head()
    generator = torch.Generator().manual_seed(0)
    preds = 3 * torch.randn(3, 20, generator=generator)
    targets = (torch.rand(3, 20, generator=generator) > 0.5).float()
    ce = head.loss_mask(preds, targets, avg_factor=3 * 20)
    torch.testing.assert_close(
        ce, 5 * F.binary_cross_entropy_with_logits(preds, targets))
    probs = preds.sigmoid()
    dice = 1 - (2 * (probs * targets).sum(1) + 1) / (
        probs.sum(1) + targets.sum(1) + 1)
    torch.testing.assert_close(
        head.loss_dice(preds, targets, avg_factor=3), 5 * dice.sum() / 3)
