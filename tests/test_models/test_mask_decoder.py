"""The hierarchical decoder's GEMM upsampling is a transposed convolution."""
import torch
import torch.nn as nn

from mrovseg_mmseg.models.decode_heads.hierarchical_mask_decoder import (
    HierarchicalMaskDecoder, UpsampleBlock)


def test_upsample_projection_equals_conv_transpose():
    torch.manual_seed(0)
    block = UpsampleBlock(6, 4)
    reference = nn.ConvTranspose2d(6, 4, kernel_size=2, stride=2)
    # Linear rows are ordered (dy, dx, out channel); the conv weight is
    # (in, out, dy, dx).
    with torch.no_grad():
        weight = block.proj.weight.view(2, 2, 4, 6)  # (dy, dx, out, in)
        reference.weight.copy_(weight.permute(3, 2, 0, 1))
        reference.bias.copy_(block.proj.bias.view(2, 2, 4)[0, 0])
        block.proj.bias.copy_(reference.bias.repeat(4))
    x = torch.randn(2, 6, 3, 5)
    expected = reference(x).permute(0, 2, 3, 1)  # (B, 2H, 2W, C')
    projected = block.proj(x.permute(0, 2, 3, 1)).view(2, 3, 5, 2, 2, 4)
    projected = projected.permute(0, 1, 3, 2, 4, 5).reshape(2, 6, 10, 4)
    torch.testing.assert_close(projected, expected)
    out = block(x.permute(0, 2, 3, 1))
    torch.testing.assert_close(
        out, block.act(block.norm(expected)), rtol=1e-5, atol=1e-5)


def test_decoder_output_strides():
    decoder = HierarchicalMaskDecoder(embed_dims=16, decoder_layers=(3, 2, 1))
    visual = torch.randn(1, 16, 6, 8)
    fused = {layer: torch.randn(1, 16, 6, 8) for layer in (1, 2, 3)}
    masks = decoder(visual, fused, torch.randn(1, 5, 16))
    assert masks.shape == (1, 5, 24, 32)
    flat = HierarchicalMaskDecoder(embed_dims=16, hierarchical=False)
    assert flat(visual, fused, torch.randn(1, 5, 16)).shape == (1, 5, 6, 8)
