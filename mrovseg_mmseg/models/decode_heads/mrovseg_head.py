"""MROVSeg decode head: masks, attention biases, classification, losses."""
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.ops import point_sample
from mmengine.dist import all_reduce
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from mmseg.models.utils import get_uncertain_point_coords_with_randomness
from mmseg.registry import MODELS
from mmseg.utils import MatchMasks, SampleList
from torch import Tensor

from ..necks.multi_res_adapter import AdapterOutput, AdapterStage
from ..utils.multi_res_features import MultiResFeatures
from ..utils.resampling import resize_region
from .attention_mask_decoder import AttentionMaskDecoder
from .hierarchical_mask_decoder import HierarchicalMaskDecoder
from .mask_classifier import MultiGrainedMaskClassifier


@dataclass
class HeadOutput:
    """Predictions of one supervised stage.

    Attributes:
        cls_logits: (B, N, K + 1), last class = no object.
        mask_logits: (B, N, H'', W'') before sigmoid, over the slice canvas
            (the global grid without slices), which may reach past the
            image.
        mask_region: (rows, cols) of ``mask_logits`` that show the input
            image, fractional (see :meth:`MultiResLayout.image_region`);
            None = all of it.
    """
    cls_logits: Tensor
    mask_logits: Tensor
    mask_region: Optional[Tuple[float, float]] = None


@MODELS.register_module()
class MROVSegHead(BaseModule):
    """Mask proposals from the adapter, classified through CLIP.

    ``forward`` gives one :class:`HeadOutput` per supervised stage (deep
    supervision stages first, final stage last). ``loss_by_feat`` matches
    queries to ground-truth segments with mmseg's ``MatchMasks`` (Hungarian
    assignment on sampled points) and applies the class, mask and dice losses
    on importance-sampled points. ``predict_by_feat`` returns
    ``softmax(C)[..., :K] x sigmoid(M)``.

    Args:
        embed_dims: adapter width D.
        clip_heads: attention heads of the CLIP ViT (per-head masks).
        clip_dims, clip_proj_dims: CLIP width and joint embedding size.
        num_queries: N.
        decoder_layers, decoder_channels, hierarchical: see
            :class:`HierarchicalMaskDecoder` (``stage_channels``).
        decoupled_attn_masks: see :class:`AttentionMaskDecoder`.
        use_local_tokens, attend_cls_key: see
            :class:`MultiGrainedMaskClassifier`.
        loss_cls, loss_mask, loss_dice: mmseg loss configs. ``loss_cls`` gets
            a class weight of 1 per class and ``no_object_weight`` for the
            no-object class, sized to the current vocabulary.
        cls_loss_norm: denominator of the class loss ``sum_i w_i ce_i`` over
            the B x N queries of the batch. ``'weighted_mean'`` divides by
            ``sum_i w_i`` (the weight of each query's target class), as
            PyTorch's ``cross_entropy(..., weight=)`` in the official
            Mask2Former and SAN code (and mmseg's ``CrossEntropyLoss`` given
            class weights and no ``avg_factor``); ``'mean'`` divides by
            B x N. With 0.1 for no object, 100 queries and 5 matched ones the
            first is 100 / 14.5 = 6.9 times the second. The denominator is
            per rank (this GPU's queries), as in the official code; DDP then
            averages the ranks' gradients. Needs ``reduction='mean'``.
        assigner: mmseg ``HungarianAssigner`` config.
        num_points, oversample_ratio, importance_sample_ratio: point sampling.
        ignore_index: label value that is not supervised.
    """

    def __init__(self,
                 *,
                 embed_dims: int = 768,
                 clip_heads: int = 12,
                 clip_dims: int = 768,
                 clip_proj_dims: int = 512,
                 num_queries: int = 100,
                 decoder_layers: Sequence[int] = (9, 6, 3),
                 decoder_channels: Optional[Sequence[int]] = None,
                 hierarchical: bool = True,
                 decoupled_attn_masks: bool = True,
                 use_local_tokens: bool = True,
                 attend_cls_key: bool = False,
                 loss_cls: Optional[dict] = None,
                 loss_mask: Optional[dict] = None,
                 loss_dice: Optional[dict] = None,
                 no_object_weight: float = 0.1,
                 cls_loss_norm: str = 'weighted_mean',
                 assigner: Optional[dict] = None,
                 num_points: int = 12544,
                 oversample_ratio: float = 3.0,
                 importance_sample_ratio: float = 0.75,
                 ignore_index: int = 255,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if cls_loss_norm not in ('weighted_mean', 'mean'):
            raise ValueError(
                f"cls_loss_norm={cls_loss_norm!r}: use 'weighted_mean' "
                '(divide by the summed class weights of the targets, as the '
                "official Mask2Former and SAN) or 'mean' (divide by the "
                'number of queries).')
        self.num_queries = num_queries
        self.ignore_index = ignore_index
        self.mask_decoder = HierarchicalMaskDecoder(
            embed_dims=embed_dims, decoder_layers=decoder_layers,
            stage_channels=decoder_channels, hierarchical=hierarchical)
        self.attn_mask_decoder = AttentionMaskDecoder(
            embed_dims=embed_dims, num_heads=clip_heads,
            decoupled=decoupled_attn_masks)
        self.classifier = MultiGrainedMaskClassifier(
            num_queries=num_queries, embed_dims=clip_dims,
            proj_dims=clip_proj_dims, use_local_tokens=use_local_tokens,
            attend_cls_key=attend_cls_key)
        self.loss_cls_cfg = loss_cls or dict(
            type='mmseg.CrossEntropyLoss', use_sigmoid=False, loss_weight=2.0,
            reduction='mean', avg_non_ignore=True, loss_name='loss_cls_ce')
        self.loss_mask = MODELS.build(loss_mask or dict(
            type='mmseg.CrossEntropyLoss', use_sigmoid=True, loss_weight=5.0,
            reduction='mean', avg_non_ignore=True, loss_name='loss_mask_ce'))
        self.loss_dice = MODELS.build(loss_dice or dict(
            type='mmseg.DiceLoss', use_sigmoid=True, activate=True,
            reduction='mean', naive_dice=True, eps=1.0, loss_weight=5.0,
            ignore_index=None, loss_name='loss_mask_dice'))
        self.no_object_weight = no_object_weight
        self.cls_loss_norm = cls_loss_norm
        self.assigner_cfg = assigner or dict(
            type='mmseg.HungarianAssigner',
            match_costs=[
                dict(type='mmseg.ClassificationCost', weight=2.0),
                dict(type='mmseg.CrossEntropyLossCost', weight=5.0,
                     use_sigmoid=True),
                dict(type='mmseg.DiceCost', weight=5.0, pred_act=True,
                     eps=1.0)
            ])
        self.num_points = num_points
        self.oversample_ratio = oversample_ratio
        self.importance_sample_ratio = importance_sample_ratio
        self._loss_cls_by_k: Dict[int, nn.Module] = {}
        self._matcher_by_k: Dict[int, MatchMasks] = {}

    # --------------------------------------------------------------- forward
    def forward_stage(self, stage: AdapterStage, adapter: AdapterOutput,
                      features: MultiResFeatures,
                      text_embeds: Tensor) -> HeadOutput:
        mask_logits = self.mask_decoder(stage.visual, adapter.fused_maps,
                                        stage.queries)
        global_bias, local_bias = self.attn_mask_decoder(
            stage.visual, stage.queries, features.layout)
        cls_logits = self.classifier(features, text_embeds, global_bias,
                                     local_bias)
        return HeadOutput(
            cls_logits=cls_logits,
            mask_logits=mask_logits,
            mask_region=features.layout.image_region(mask_logits.shape[-2:]))

    def forward(self, features: MultiResFeatures, adapter: AdapterOutput,
                text_embeds: Tensor,
                with_intermediate: bool = False) -> List[HeadOutput]:
        """One output per supervised stage, the final stage last."""
        stages = (adapter.intermediate if with_intermediate else []) + [
            adapter.final]
        return [self.forward_stage(stage, adapter, features, text_embeds)
                for stage in stages]

    # ------------------------------------------------------------------ loss
    def loss(self, features: MultiResFeatures, adapter: AdapterOutput,
             text_embeds: Tensor, batch_data_samples: SampleList) -> dict:
        """Losses of a batch whose images all have the input's size."""
        outputs = self.forward(features, adapter, text_embeds,
                               with_intermediate=True)
        return self.loss_from_outputs(
            [(outputs, batch_data_samples)],
            stage_names=[f'd{b}.' for b in adapter.intermediate_blocks] +
            [''])

    def loss_from_outputs(
            self, groups: Sequence[Tuple[List[HeadOutput], SampleList]],
            stage_names: Sequence[str]) -> dict:
        """Losses of a batch that went through the model in groups.

        Args:
            groups: per group of images seen at one size, the outputs of
                :meth:`forward` (one per stage) and the group's samples,
                whose label maps cover the group's input.
            stage_names: loss-name prefix of each stage.
        """
        num_classes = groups[0][0][-1].cls_logits.shape[-1] - 1
        gt_instances = [self.gt_instances(samples, num_classes)
                        for _, samples in groups]
        losses = {}
        for stage, prefix in enumerate(stage_names):
            stage_groups = [(outputs[stage], gt) for (outputs, _), gt in zip(
                groups, gt_instances)]
            for key, value in self.loss_by_groups(stage_groups).items():
                losses[prefix + key] = value
        return losses

    def gt_instances(self, batch_data_samples: SampleList,
                     num_classes: int) -> List[InstanceData]:
        """Per image, one binary mask per class present (ignore removed)."""
        instances = []
        for sample in batch_data_samples:
            seg = sample.gt_sem_seg.data.squeeze(0)
            labels = torch.unique(seg)
            labels = labels[labels != self.ignore_index]
            bad = labels[labels >= num_classes]
            if bad.numel() or (labels < 0).any():
                value = int(bad[0]) if bad.numel() else int(labels.min())
                raise ValueError(
                    f'label value {value} in {sample.metainfo.get("img_path")}'
                    f' is outside the training vocabulary of {num_classes} '
                    f'classes (ignore index {self.ignore_index}).')
            masks = seg[None] == labels[:, None, None]  # (G, H, W)
            instances.append(InstanceData(labels=labels.long(),
                                          masks=masks.float()))
        return instances

    def _loss_cls(self, num_classes: int) -> nn.Module:
        """Class loss with weights sized to the vocabulary (+ no object)."""
        if num_classes not in self._loss_cls_by_k:
            cfg = dict(self.loss_cls_cfg)
            cfg['class_weight'] = [1.0] * num_classes + [self.no_object_weight]
            self._loss_cls_by_k[num_classes] = MODELS.build(cfg)
        return self._loss_cls_by_k[num_classes]

    def loss_by_feat(self, output: HeadOutput,
                     gt_instances: List[InstanceData]) -> Dict[str, Tensor]:
        """Losses of one stage for a batch seen at one size."""
        return self.loss_by_groups([(output, gt_instances)])

    def loss_by_groups(
        self, groups: Sequence[Tuple[HeadOutput, List[InstanceData]]]
    ) -> Dict[str, Tensor]:
        """Losses of one stage for a batch seen in groups of one size each.

        Each group is matched and point-sampled on its own mask logits; the
        class and mask losses are then normalized over the whole batch, as
        if it had been one group.
        """
        num_classes = groups[0][0].cls_logits.shape[-1] - 1
        if num_classes not in self._matcher_by_k:
            self._matcher_by_k[num_classes] = MatchMasks(
                num_points=self.num_points, num_queries=self.num_queries,
                num_classes=num_classes, assigner=self.assigner_cfg)
        matcher = self._matcher_by_k[num_classes]
        all_logits, all_labels, point_preds, point_targets = [], [], [], []
        avg_factor = 0
        for output, gt_instances in groups:
            mask_logits = _logits_on_input(output)
            labels, mask_targets, mask_weights, matched = matcher.get_targets(
                output.cls_logits, mask_logits, gt_instances)
            all_logits.append(output.cls_logits)
            all_labels.append(labels)
            avg_factor += matched
            if mask_targets.shape[0] == 0:
                continue
            # (b, N, h, w) -> (G, h, w), matched queries only
            mask_preds = mask_logits[mask_weights > 0]
            with torch.no_grad():
                coords = get_uncertain_point_coords_with_randomness(
                    mask_preds.unsqueeze(1).float(), None, self.num_points,
                    self.oversample_ratio, self.importance_sample_ratio)
                # (G, H, W) -> (G, P)
                point_targets.append(point_sample(
                    mask_targets.unsqueeze(1).float(), coords).squeeze(1))
            # (G, h, w) -> (G, P)
            point_preds.append(point_sample(mask_preds.unsqueeze(1).float(),
                                            coords).squeeze(1))
        cls_logits = torch.cat(all_logits)  # (B, N, K + 1)
        labels = torch.cat(all_labels)  # (B, N)
        loss_cls = self._loss_cls(num_classes).to(cls_logits.device)
        flat_logits = cls_logits.flatten(0, 1)  # (B, N, K + 1) -> (BN, K + 1)
        flat_labels = labels.flatten(0, 1)  # (B, N) -> (BN, )
        if self.cls_loss_norm == 'weighted_mean':
            class_weight = torch.as_tensor(
                loss_cls.class_weight, dtype=torch.float,
                device=cls_logits.device)
            cls_avg_factor = class_weight[flat_labels].sum()
        else:
            cls_avg_factor = float(flat_labels.numel())
        losses = {
            'loss_cls_ce':
            loss_cls(flat_logits, flat_labels, avg_factor=cls_avg_factor)
        }
        num_masks = cls_logits.new_tensor([avg_factor], dtype=torch.float)
        all_reduce(num_masks, op='mean')
        num_masks = max(float(num_masks), 1.0)
        if not point_preds:
            zero = sum(output.mask_logits.sum() for output, _ in groups) * 0
            losses.update(loss_mask_ce=zero, loss_mask_dice=zero)
            return losses
        point_preds = torch.cat(point_preds)  # (G, P), all groups
        point_targets = torch.cat(point_targets)
        losses['loss_mask_ce'] = self.loss_mask(
            point_preds, point_targets,
            avg_factor=num_masks * self.num_points)
        losses['loss_mask_dice'] = self.loss_dice(
            point_preds, point_targets, avg_factor=num_masks)
        return losses

    # --------------------------------------------------------------- predict
    @staticmethod
    def semantic_scores(cls_logits: Tensor, mask_logits: Tensor) -> Tensor:
        """S = softmax(C)[..., :K] x sigmoid(M): (B, K, H, W)."""
        probs = F.softmax(cls_logits, dim=-1)[..., :-1]
        return torch.einsum('bnk,bnhw->bkhw', probs, mask_logits.sigmoid())


def _logits_on_input(output: HeadOutput) -> Tensor:
    """The mask logits of the part of the slice canvas that shows the input.

    Matching and point sampling put the mask logits and the targets on the
    same [0, 1] coordinates; where the canvas reaches past the input (slice
    windows that do not tile it, e.g. p = 0.75 at 640) the region that shows
    the input is resampled onto its own grid first, as at test time, so the
    targets are not stretched over the canvas.

    Returns:
        (B, N, ceil(rows), ceil(cols)) logits covering exactly the input.
    """
    if output.mask_region is None:
        return output.mask_logits
    size = tuple(math.ceil(region - 1e-6) for region in output.mask_region)
    # a region that is the whole map comes back unchanged
    return resize_region(output.mask_logits, output.mask_region, size)
