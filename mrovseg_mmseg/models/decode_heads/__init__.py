from .attention_mask_decoder import AttentionMaskDecoder
from .hierarchical_mask_decoder import HierarchicalMaskDecoder
from .mask_classifier import MultiGrainedMaskClassifier
from .mrovseg_head import MROVSegHead

__all__ = [
    'AttentionMaskDecoder', 'HierarchicalMaskDecoder',
    'MultiGrainedMaskClassifier', 'MROVSegHead'
]
