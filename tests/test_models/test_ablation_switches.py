"""Every ablation of the paper (Tables 2-4, Fig. 7) is a switch with an effect."""
import pytest
import torch
from mmseg.registry import MODELS

from .tiny_model import make_batch, tiny_model_cfg


@pytest.fixture
def run(tiny_clip_cfg, tiny_clip_checkpoint):
    """Build a tiny model with overrides; return it and its stage outputs."""

    def _run(**overrides):
        torch.manual_seed(0)
        model = MODELS.build(
            tiny_model_cfg(tiny_clip_cfg, tiny_clip_checkpoint,
                           **overrides)).eval()
        data = model.data_preprocessor(make_batch([(64, 64)]), False)
        with torch.no_grad():
            features = model.backbone(data['inputs'])
            adapter = model.neck(features)
            output = model.decode_head(features, adapter,
                                       model.text_embeds('test'))[-1]
        return model, features, adapter, output

    return _run


def test_table2_multi_res_adapter_off_uses_global_grid(run):
    _, _, multi, _ = run()
    _, features, single, _ = run(backbone=dict(slice_ratio=0.0))
    assert not features.layout.has_slices
    assert multi.final.visual.shape[-2:] == (8, 8)
    assert single.final.visual.shape[-2:] == (4, 4)


def test_table2_hierarchical_decoding_off_keeps_stride16(run):
    _, _, _, hierarchical = run()
    _, _, _, flat = run(decode_head=dict(hierarchical=False))
    assert hierarchical.mask_logits.shape[-2:] == (32, 32)
    assert flat.mask_logits.shape[-2:] == (8, 8)


def test_table2_multi_grained_attention_off_ignores_slices(run):
    model, features, adapter, on = run()
    _, _, _, off = run(decode_head=dict(use_local_tokens=False))
    assert not torch.allclose(on.cls_logits, off.cls_logits)
    classifier = model.decode_head.classifier
    text = model.text_embeds('test')
    global_bias = torch.zeros(1, 4, 8, 16)
    local_a, local_b = torch.zeros(1, 4, 8, 64), torch.randn(1, 4, 8, 64)
    with torch.no_grad():
        a = classifier(features, text, global_bias, local_a)
        b = classifier(features, text, global_bias, local_b)
        classifier.use_local_tokens = False
        c = classifier(features, text, global_bias, local_a)
        d = classifier(features, text, global_bias, local_b)
    assert not torch.allclose(a, b)
    torch.testing.assert_close(c, d)


def test_table4a_spatial_fusion(run):
    model, _, dwconv, _ = run()
    concat_model, _, concat, _ = run(neck=dict(spatial_fusion='concat'))
    assert isinstance(model.neck.fusions[0].spatial, torch.nn.Sequential)
    assert model.neck.fusions[0].spatial[0].groups == 64
    assert isinstance(concat_model.neck.fusions[0].spatial, torch.nn.Conv2d)
    assert not torch.allclose(dwconv.final.visual, concat.final.visual)


@pytest.mark.parametrize('mode', ['add', 'concat'])
def test_table4b_scale_fusion(run, mode):
    _, _, attn, _ = run()
    model, _, other, _ = run(neck=dict(scale_fusion=mode))
    fusion = model.neck.fusions[0]
    assert not hasattr(fusion, 'scale_attn')
    assert hasattr(fusion, 'merge') == (mode == 'concat')
    assert not torch.allclose(attn.final.visual, other.final.visual)


def test_table4c_block_number(run):
    model, _, _, _ = run(neck=dict(num_blocks=5))
    assert len(model.neck.blocks) == 5


def test_table4d_fusion_layers(run):
    model, _, adapter, _ = run(neck=dict(fusion_layers=(1, 2, 3)),
                               decode_head=dict(decoder_layers=(3, 2, 1)))
    assert tuple(adapter.fused_maps) == (1, 2, 3)
    assert len(model.neck.fusions) == 3


def test_table4e_channel_width(run):
    _, _, adapter, output = run(neck=dict(embed_dims=48),
                                decode_head=dict(embed_dims=48))
    assert adapter.final.queries.shape == (1, 8, 48)
    assert adapter.final.visual.shape[1] == 48
    assert torch.isfinite(output.cls_logits).all()


def test_table4f_query_number(run):
    _, _, _, output = run(neck=dict(num_queries=12),
                          decode_head=dict(num_queries=12))
    assert output.cls_logits.shape == (1, 12, 4)
    assert output.mask_logits.shape[1] == 12


def test_fig7_single_attention_mask_decoding(run):
    model, _, _, decoupled = run()
    single_model, _, _, single = run(decode_head=dict(
        decoupled_attn_masks=False))
    assert model.decode_head.attn_mask_decoder.global_mlp is not None
    assert single_model.decode_head.attn_mask_decoder.global_mlp is None
    assert not torch.allclose(decoupled.cls_logits, single.cls_logits)
