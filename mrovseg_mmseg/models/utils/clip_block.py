"""Run open_clip's ViT residual blocks with fused attention and exposed keys.

The frozen CLIP blocks are executed from their own weights (``ln_1``,
``attn.in_proj_*``, ``attn.out_proj``, ``ls_1``, ``ln_2``, ``mlp``, ``ls_2``) so
that one pass over the views can hand each block's keys and values to the
mask classifier, and so that the classifier's queries can go through the same
block weights as a masked cross-attention, without running CLIP twice.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


def check_block_supported(block: nn.Module, index: int) -> None:
    """Raise a clear error for block types this runner does not implement."""
    attn = getattr(block, 'attn', None)
    if not isinstance(attn, nn.MultiheadAttention) or not hasattr(
            block, 'ln_1') or hasattr(block, 'ln_1_kv'):
        raise TypeError(
            f'CLIP block {index} is a {type(block).__name__}; only open_clip '
            'ResidualAttentionBlock (nn.MultiheadAttention self-attention) '
            'is supported.')
    if attn.in_proj_weight is None:
        raise TypeError(f'CLIP block {index} uses separate q/k/v weights, '
                        'which is not supported.')


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, T, C) -> (B, heads, T, C // heads)."""
    batch, length, channels = x.shape
    return x.view(batch, length, num_heads,
                  channels // num_heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(B, heads, T, d) -> (B, T, heads * d)."""
    batch, heads, length, dims = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * dims)


def project_qkv(block: nn.Module, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """ln_1 then the block's packed in-projection; each output (B, heads, T, d)."""
    attn = block.attn
    qkv = F.linear(block.ln_1(x), attn.in_proj_weight, attn.in_proj_bias)
    q, k, v = qkv.chunk(3, dim=-1)  # 3 x (B, T, C)
    return (split_heads(q, attn.num_heads), split_heads(k, attn.num_heads),
            split_heads(v, attn.num_heads))


def project_query(block: nn.Module, x: Tensor) -> Tensor:
    """ln_1 then only the query part of the in-projection, (B, heads, Q, d)."""
    attn = block.attn
    channels = attn.embed_dim
    bias = attn.in_proj_bias[:channels] if attn.in_proj_bias is not None \
        else None
    q = F.linear(block.ln_1(x), attn.in_proj_weight[:channels], bias)
    return split_heads(q, attn.num_heads)


def finish_block(block: nn.Module, x: Tensor, attended: Tensor) -> Tensor:
    """Output projection, residuals and MLP of a block.

    Args:
        x: block input, (B, T, C).
        attended: attention output per head, (B, heads, T, d).
    """
    out = block.attn.out_proj(merge_heads(attended))
    x = x + block.ls_1(out)
    return x + block.ls_2(block.mlp(block.ln_2(x)))


def self_attention_block(
        block: nn.Module, x: Tensor
) -> Tuple[Tensor, Tuple[Tensor, Tensor]]:
    """One CLIP block on tokens ``x`` (B, T, C); also returns its keys/values."""
    q, k, v = project_qkv(block, x)
    attended = F.scaled_dot_product_attention(q, k, v)
    return finish_block(block, x, attended), (k, v)


def cross_attention_block(block: nn.Module, queries: Tensor, keys: Tensor,
                          values: Tensor,
                          attn_bias: Optional[Tensor] = None) -> Tensor:
    """Queries attend to precomputed keys/values through a block's weights.

    Args:
        queries: (B, Q, C) query tokens.
        keys, values: (B, heads, T, d), from :func:`self_attention_block`.
        attn_bias: additive float bias broadcastable to (B, heads, Q, T).

    Returns:
        Updated queries, (B, Q, C).
    """
    q = project_query(block, queries)
    if attn_bias is not None:
        attn_bias = attn_bias.to(q.dtype)
    attended = F.scaled_dot_product_attention(q, keys, values,
                                              attn_mask=attn_bias)
    return finish_block(block, queries, attended)


@torch.no_grad()
def interpolate_pos_embed(pos_embed: Tensor, src_grid: Tuple[int, int],
                          dst_grid: Tuple[int, int]) -> Tensor:
    """Resize a ViT position embedding (1 + h*w, C) to another token grid."""
    if tuple(src_grid) == tuple(dst_grid):
        return pos_embed
    cls_pos, patch_pos = pos_embed[:1], pos_embed[1:]
    channels = patch_pos.shape[-1]
    # (h*w, C) -> (1, C, h, w)
    patch_pos = patch_pos.reshape(1, *src_grid, channels).permute(0, 3, 1, 2)
    patch_pos = F.interpolate(
        patch_pos.float(), size=dst_grid, mode='bicubic',
        align_corners=False).to(pos_embed.dtype)
    # (1, C, H, W) -> (H*W, C)
    patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(-1, channels)
    return torch.cat([cls_pos, patch_pos], dim=0)
