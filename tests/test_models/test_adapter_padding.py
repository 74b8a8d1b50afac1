"""The adapter's blocks and padding: masked keys are as if absent."""
from dataclasses import replace

import pytest
import torch
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer

from mrovseg_mmseg.models.backbones import MultiResCLIPViT
from mrovseg_mmseg.models.necks import MultiResAdapter
from mrovseg_mmseg.models.necks.multi_res_adapter import \
    encoder_layer_with_bias


@pytest.fixture
def layer():
    torch.manual_seed(0)
    layer = TransformerEncoderLayer(embed_dims=32, num_heads=4,
                                    feedforward_channels=64)
    layer.init_weights()
    return layer.eval()


def test_layer_without_bias_is_mmpretrains(layer):
    x = torch.randn(2, 9, 32)
    torch.testing.assert_close(encoder_layer_with_bias(layer, x, None),
                               layer(x))
    zero = torch.zeros(1, 1, 1, 9)
    torch.testing.assert_close(encoder_layer_with_bias(layer, x, zero),
                               layer(x))


def test_masked_keys_are_as_if_absent(layer):
    x = torch.randn(2, 9, 32)
    keep = torch.tensor([True, True, False, True, True, True, False, True,
                         True])
    bias = torch.zeros(9).masked_fill(~keep, float('-inf')).view(1, 1, 1, -1)
    masked = encoder_layer_with_bias(layer, x, bias)
    torch.testing.assert_close(masked[:, keep], layer(x[:, keep]))


@pytest.fixture
def padded_features(tiny_clip_cfg, tiny_clip_checkpoint):
    backbone = MultiResCLIPViT(
        model_cfg=tiny_clip_cfg, pretrained=tiny_clip_checkpoint,
        clip_input_size=32, base_size=64, slice_ratio=0.5,
        fusion_layers=(0, 2, 4), classifier_start_block=None)
    torch.manual_seed(1)
    return backbone(torch.randn(1, 3, 64, 85))


def _with_padding_moved(features):
    """Features whose padding tokens (both grids, every layer) changed."""
    layout = features.layout
    srows, scols = layout.slice_valid
    grows, gcols = layout.global_valid
    slice_maps, global_maps = [], []
    for slice_map, global_map in zip(features.slice_maps,
                                     features.global_maps):
        slice_map, global_map = slice_map.clone(), global_map.clone()
        slice_map[..., srows:, :] += 30
        slice_map[..., :, scols:] -= 30
        global_map[..., grows:, :] += 30
        global_map[..., :, gcols:] -= 30
        slice_maps.append(slice_map)
        global_maps.append(global_map)
    return replace(features, slice_maps=slice_maps, global_maps=global_maps)


@pytest.mark.parametrize('attend_padding', [False, True])
def test_padding_content_reaches_the_adapter_only_if_attended(
        padded_features, attend_padding):
    layout = padded_features.layout
    assert layout.slice_valid != layout.slice_grid
    torch.manual_seed(2)
    adapter = MultiResAdapter(in_channels=64, embed_dims=32, num_heads=4,
                              num_blocks=3, num_queries=8,
                              fusion_layers=(0, 2, 4),
                              attend_padding=attend_padding).eval()
    with torch.no_grad():
        out = adapter(padded_features).final
        moved = adapter(_with_padding_moved(padded_features)).final
    rows, cols = layout.slice_valid
    same = (torch.allclose(moved.queries, out.queries, atol=1e-5)
            and torch.allclose(moved.visual[..., :rows, :cols],
                               out.visual[..., :rows, :cols], atol=1e-5))
    assert same != attend_padding
