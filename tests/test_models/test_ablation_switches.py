"""Every ablation of the paper (Tables 2-4, Fig. 7) is a switch with an effect."""
from dataclasses import replace

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
    """p = 0 on the same model: the global view's maps are unchanged, the
    slices are gone, and the adapter runs on the global grid."""
    model, features, multi, _ = run()
    data = model.data_preprocessor(make_batch([(64, 64)]), False)
    model.backbone.slice_ratio = 0.0
    with torch.no_grad():
        single_features = model.backbone(data['inputs'])
        single = model.neck(single_features)
    assert not single_features.layout.has_slices
    assert single_features.slice_maps == []
    for a, b in zip(single_features.global_maps, features.global_maps):
        torch.testing.assert_close(a, b)
    assert multi.final.visual.shape[-2:] == (8, 8)
    assert single.final.visual.shape[-2:] == (4, 4)
    # the stem tokens the adapter starts from are the global ones
    fusion = model.neck.fusions[0]
    torch.testing.assert_close(
        single.fused_maps[0], fusion.global_proj(features.global_maps[0]))


def test_table2_hierarchical_decoding_off_keeps_stride16(run):
    """Same weights elsewhere: class logits are untouched, the masks are
    Q_f . MLP_pix(H) at stride 16."""
    model, _, adapter, hierarchical = run()
    flat_model, features, flat_adapter, flat = run(
        decode_head=dict(hierarchical=False))
    flat_model.load_state_dict(
        {k: v for k, v in model.state_dict().items()
         if not k.startswith('decode_head.mask_decoder.')}, strict=False)
    text = flat_model.text_embeds('test')
    with torch.no_grad():
        adapter = flat_model.neck(features)
        flat = flat_model.decode_head(features, adapter, text)[-1]
        pixels = flat_model.decode_head.mask_decoder.pixel_mlp(
            adapter.final.visual.permute(0, 2, 3, 1))
    assert hierarchical.mask_logits.shape[-2:] == (32, 32)
    torch.testing.assert_close(flat.cls_logits, hierarchical.cls_logits)
    torch.testing.assert_close(
        flat.mask_logits,
        torch.einsum('bnc,bhwc->bnhw', adapter.final.queries, pixels))


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


@pytest.mark.parametrize('spatial,scale', [('concat', 'scale_attn'),
                                           ('dwconv', 'add'),
                                           ('dwconv', 'concat')])
def test_table4ab_fusion_switches_reach_every_fusion(tiny_clip_cfg,
                                                     tiny_clip_checkpoint,
                                                     spatial, scale):
    """The config switches build every MRF of the adapter in that variant
    (what each variant computes: test_equations.py, Eq. 2)."""
    model = MODELS.build(
        tiny_model_cfg(tiny_clip_cfg, tiny_clip_checkpoint,
                       neck=dict(spatial_fusion=spatial,
                                 scale_fusion=scale)))
    for fusion in model.neck.fusions:
        assert fusion.scale_fusion == scale
        assert isinstance(fusion.spatial, torch.nn.Conv2d) == (
            spatial == 'concat')
        assert hasattr(fusion, 'scale_attn') == (scale == 'scale_attn')
        assert hasattr(fusion, 'merge') == (scale == 'concat')


def _identity_block(block):
    """Zero a pre-norm block's residual branches: block(x) = x."""
    with torch.no_grad():
        block.attn.proj.weight.zero_()
        block.attn.proj.bias.zero_()
        last = [m for m in block.ffn.layers
                if isinstance(m, torch.nn.Linear)][-1]
        last.weight.zero_()
        last.bias.zero_()


def test_table4c_block_number(run):
    """Two more blocks on the same weights; as identities they give the
    3-block adapter's output exactly, so depth is all that changed."""
    model, features, three, _ = run()
    five_model, _, _, _ = run(neck=dict(num_blocks=5))
    assert len(five_model.neck.blocks) == 5
    result = five_model.neck.load_state_dict(model.neck.state_dict(),
                                             strict=False)
    assert not result.unexpected_keys
    assert {k.split('.')[1] for k in result.missing_keys} == {'3', '4'}
    with torch.no_grad():
        assert not torch.allclose(five_model.neck(features).final.queries,
                                  three.final.queries, atol=1e-4)
        for block in five_model.neck.blocks[3:]:
            _identity_block(block)
        five = five_model.neck(features)
    torch.testing.assert_close(five.final.queries, three.final.queries)
    torch.testing.assert_close(five.final.visual, three.final.visual)


def _move_layer(features, layer):
    """Features whose maps of CLIP layer ``layer`` are shifted."""
    index = features.fusion_layers.index(layer)
    slice_maps, global_maps = list(features.slice_maps), list(
        features.global_maps)
    slice_maps[index] = slice_maps[index] + 1
    global_maps[index] = global_maps[index] + 1
    return replace(features, slice_maps=slice_maps, global_maps=global_maps)


def test_table4d_fusion_layers(run):
    """Same weights, other layers: the adapter reads exactly the CLIP layers
    it is given, in block order."""
    model, features, adapter, _ = run()
    other, _, _, _ = run(neck=dict(fusion_layers=(0, 1, 3)),
                         decode_head=dict(decoder_layers=(3, 1, 0)))
    other.neck.load_state_dict(model.neck.state_dict())  # strict
    assert tuple(adapter.fused_maps) == (0, 2, 4)
    with torch.no_grad():
        out = other.neck(features)
        assert tuple(out.fused_maps) == (0, 1, 3)
        for layer in (0, 1, 2, 3, 4):
            moved = other.neck(_move_layer(features, layer))
            same = torch.allclose(moved.final.queries, out.final.queries)
            assert same == (layer not in (0, 1, 3)), layer
        # block j adds the fusion of its layer: layer 1 feeds block 1
        torch.testing.assert_close(
            out.fused_maps[1],
            other.neck.fusions[1](features.slice_maps[1],
                                  features.global_maps[1], features.layout))


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


def test_fig7_single_attention_mask_decoding(tiny_clip_cfg,
                                             tiny_clip_checkpoint):
    """The switch reaches the head (what it computes: test_equations.py,
    Eq. 6-7 and Fig. 7)."""
    for decoupled in (True, False):
        model = MODELS.build(
            tiny_model_cfg(tiny_clip_cfg, tiny_clip_checkpoint,
                           decode_head=dict(decoupled_attn_masks=decoupled)))
        decoder = model.decode_head.attn_mask_decoder
        assert decoder.decoupled == decoupled
        assert (decoder.global_mlp is not None) == decoupled
