"""Model helpers: resizing of one-pixel-wide strips, supported CLIP blocks."""
import re

import pytest
import torch
import torch.nn.functional as F
from open_clip.transformer import ResidualAttentionBlock

from mrovseg_mmseg.models.utils.clip_block import (check_block_supported,
                                                  project_query)
from mrovseg_mmseg.models.utils.resampling import resize_bilinear


@pytest.mark.parametrize('antialias', [True, False])
def test_resize_to_one_pixel_wide_equals_resizing_rows_of_a_wider_map(
        antialias):
    """Rows of a map that is constant along them resize like its single
    column; a three-pixel-wide output avoids the one-pixel-wide case."""
    generator = torch.Generator().manual_seed(0)
    column = torch.randn(2, 3, 40, 1, generator=generator)
    out = resize_bilinear(column, (10, 1), antialias=antialias)
    expected = F.interpolate(column.expand(-1, -1, -1, 3), size=(10, 3),
                             mode='bilinear', align_corners=False,
                             antialias=antialias)[..., :1]
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)


def test_antialiasing_changes_a_downsized_strip():
    generator = torch.Generator().manual_seed(1)
    column = torch.randn(1, 1, 40, 1, generator=generator)
    smooth = resize_bilinear(column, (10, 1), antialias=True)
    sharp = resize_bilinear(column, (10, 1), antialias=False)
    assert (smooth - sharp).abs().max() > 0.1


def test_only_self_attention_blocks_are_supported():
    check_block_supported(ResidualAttentionBlock(16, 2), 0)
    cross = ResidualAttentionBlock(16, 2, is_cross_attention=True)
    with pytest.raises(TypeError, match=re.escape(
            'CLIP block 3 is a ResidualAttentionBlock; only open_clip '
            'ResidualAttentionBlock (nn.MultiheadAttention self-attention) '
            'is supported.')):
        check_block_supported(cross, 3)
    without_norm = ResidualAttentionBlock(16, 2)
    del without_norm.ln_1
    with pytest.raises(TypeError, match='CLIP block 1 is a'):
        check_block_supported(without_norm, 1)


@pytest.mark.parametrize('bias', [True, False])
def test_query_projection_is_the_first_third_of_the_in_projection(bias):
    torch.manual_seed(0)
    block = ResidualAttentionBlock(16, 2)
    if not bias:
        block.attn = torch.nn.MultiheadAttention(16, 2, bias=False,
                                                 batch_first=True)
    x = torch.randn(3, 5, 16)
    weight = block.attn.in_proj_weight
    q = F.linear(block.ln_1(x), weight[:16],
                 block.attn.in_proj_bias[:16] if bias else None)
    # (B, Q, heads * d) -> (B, heads, Q, d)
    expected = q.view(3, 5, 2, 8).permute(0, 2, 1, 3)
    torch.testing.assert_close(project_query(block, x), expected,
                               rtol=0, atol=0)
