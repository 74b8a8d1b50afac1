"""MROVSeg's equations (2-9) against references written out here.

Each reference follows the paper's formula step by step with plain torch
calls (convolutions by their weights, ``F.max_pool2d`` for MaxPool,
``F.interpolate`` for Up) and uses a layout whose slice canvas is exactly
twice the global grid, where Up is a plain 2x bilinear resize and MaxPool a
2x2 max. The modules under test only lend their weights.
"""
import math

import pytest
import torch
import torch.nn.functional as F

from mrovseg_mmseg.models.backbones import MultiResCLIPViT
from mrovseg_mmseg.models.decode_heads import MultiGrainedMaskClassifier
from mrovseg_mmseg.models.decode_heads.attention_mask_decoder import \
    AttentionMaskDecoder
from mrovseg_mmseg.models.decode_heads.hierarchical_mask_decoder import \
    HierarchicalMaskDecoder
from mrovseg_mmseg.models.decode_heads.mrovseg_head import MROVSegHead
from mrovseg_mmseg.models.necks.multi_res_fusion import MultiResFusion
from mrovseg_mmseg.models.utils.multi_res_features import MultiResLayout

C, D = 6, 8  # CLIP width, adapter width

# a 64 x 64 image: global view 4 x 4 tokens of 16 px, slice canvas 8 x 8
# tokens of 8 px (2 x 2 slices of 4 x 4 tokens)
LAYOUT = MultiResLayout((64, 64), (4, 4), (16.0, 16.0), slice_grid=(8, 8),
                        slice_token_pixels=(8.0, 8.0),
                        slice_token_grid=(4, 4),
                        slice_offsets=((0, 4), (0, 4)))


def up(x, factor=2):
    """Up of the paper: bilinear, half-pixel centres."""
    return F.interpolate(x, scale_factor=factor, mode='bilinear',
                         align_corners=False)


def max_pool(x):
    """MaxPool of Eq. 6 (and H-bar of Eq. 2): 2 x 2 slice tokens per global
    token."""
    return F.max_pool2d(x, 2)


def conv1x1(conv, x):
    return F.conv2d(x, conv.weight, conv.bias)


def randomize(module, seed=0):
    """Non-trivial weights everywhere (biases included)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(0.3 * torch.randn(param.shape, generator=generator))
    return module


# ------------------------------------------------------------------ Eq. 2
def local_term(fusion, slice_map, spatial='dwconv'):
    """DConv(H): depthwise 3x3 then 1x1 (Table 4a 'concat': 1x1 only)."""
    if spatial == 'dwconv':
        depthwise, pointwise = fusion.spatial
        local = F.conv2d(slice_map, depthwise.weight, depthwise.bias,
                         padding=1, groups=slice_map.shape[1])
        return conv1x1(pointwise, local)
    return conv1x1(fusion.spatial, slice_map)


def fusion_reference(fusion, slice_map, global_map, spatial, scale):
    """Eq. 2 and its Table 4a / 4b variants."""
    local = local_term(fusion, slice_map, spatial)
    global_feat = conv1x1(fusion.global_proj, global_map)  # H-bar in D
    if scale == 'scale_attn':
        first, _, second = fusion.scale_attn
        attn = torch.sigmoid(
            conv1x1(second, F.gelu(conv1x1(first, max_pool(slice_map)))))
        return up(attn) * local + up((1 - attn) * global_feat)
    if scale == 'add':
        return local + up(global_feat)
    return conv1x1(fusion.merge, torch.cat([local, up(global_feat)], dim=1))


@pytest.fixture
def maps():
    torch.manual_seed(0)
    return torch.randn(2, C, 8, 8), torch.randn(2, C, 4, 4)


def build_fusion(spatial='dwconv', scale='scale_attn'):
    return MultiResFusion(in_channels=C, channels=D, spatial_fusion=spatial,
                          scale_fusion=scale)


@pytest.mark.parametrize('spatial', ['dwconv', 'concat'])
@pytest.mark.parametrize('scale', ['scale_attn', 'add', 'concat'])
def test_eq2_multi_res_fusion(maps, spatial, scale):
    fusion = randomize(build_fusion(spatial, scale))
    with torch.no_grad():
        out = fusion(*maps, LAYOUT)
        expected = fusion_reference(fusion, *maps, spatial, scale)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_eq2_without_slices_is_the_projected_global_map(maps):
    fusion = randomize(build_fusion())
    with torch.no_grad():
        out = fusion(None, maps[1], LAYOUT)
    torch.testing.assert_close(out, conv1x1(fusion.global_proj, maps[1]))


@pytest.mark.parametrize('scale', ['add', 'concat'])
def test_table4b_scale_fusion_replaces_only_the_scale_attention(maps, scale):
    """Same weights: 'add' drops a (a = 1/2 everywhere would give half of
    it), 'concat' learns the mix; DConv(H) and the global projection are
    shared."""
    attn = randomize(build_fusion())
    other = randomize(build_fusion(scale=scale), seed=1)
    result = other.load_state_dict(attn.state_dict(), strict=False)
    assert not [k for k in result.missing_keys if not k.startswith('merge.')]
    assert {k.split('.')[0] for k in result.unexpected_keys} == {'scale_attn'}
    with torch.no_grad():
        local = local_term(attn, maps[0])
        upsampled = up(conv1x1(attn.global_proj, maps[1]))
        out = other(*maps, LAYOUT)
        if scale == 'add':
            expected = local + upsampled
        else:
            expected = conv1x1(other.merge,
                               torch.cat([local, upsampled], dim=1))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        assert not torch.allclose(attn(*maps, LAYOUT), out, atol=1e-3)


def test_table4a_spatial_fusion_drops_only_the_depthwise_conv(maps):
    """With the depthwise 3x3 conv an identity, 'dwconv' equals 'concat'
    built from the same weights."""
    dwconv = randomize(build_fusion('dwconv'))
    concat = build_fusion('concat')
    state = {k.replace('spatial.1.', 'spatial.'): v
             for k, v in dwconv.state_dict().items()
             if not k.startswith('spatial.0.')}
    concat.load_state_dict(state)  # strict: all other weights shared
    with torch.no_grad():
        different = dwconv(*maps, LAYOUT)
        depthwise = dwconv.spatial[0]
        depthwise.weight.zero_()
        depthwise.weight[:, :, 1, 1] = 1
        depthwise.bias.zero_()
        torch.testing.assert_close(dwconv(*maps, LAYOUT),
                                   concat(*maps, LAYOUT))
    assert not torch.allclose(different, concat(*maps, LAYOUT), atol=1e-3)


# -------------------------------------------------------------- Eq. 4-5
def decoder_reference(decoder, visual, fused, queries):
    """H_up = TConv(TConv(cat(H, F_a)) ++ F_b) ++ F_c; Eq. 4-5."""
    layers = decoder.decoder_layers

    def nhwc(module, x):  # run a channels-last module on (B, C, H, W)
        return module(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def lateral(stage, x, factor):
        x = nhwc(decoder.laterals[stage - 1], x)
        return up(x, factor)

    x = torch.cat([visual, fused[layers[0]]], dim=1)  # stride 16
    x = nhwc(decoder.upsamples[0], x)
    if len(layers) > 1:
        x = torch.cat([x, lateral(1, fused[layers[1]], 2)], dim=1)  # stride 8
    x = nhwc(decoder.upsamples[1], x)
    if len(layers) > 2:
        x = torch.cat([x, lateral(2, fused[layers[2]], 4)], dim=1)  # stride 4
    pixels = nhwc(decoder.pixel_mlp, x)  # Eq. 4
    return torch.einsum('bnc,bchw->bnhw', queries, pixels)  # Eq. 5


@pytest.fixture
def decoder_inputs():
    torch.manual_seed(1)
    visual = torch.randn(2, D, 4, 6)
    fused = {layer: torch.randn(2, D, 4, 6) for layer in (1, 2, 3)}
    return visual, fused, torch.randn(2, 5, D)


@pytest.mark.parametrize('layers', [(3, 2, 1), (3, 2), (3, )])
def test_eq4_5_hierarchical_decoder_pairs_stages_with_layers(
        decoder_inputs, layers):
    """Fewer layers (Table 4d) leave the later stages without a join."""
    decoder = randomize(
        HierarchicalMaskDecoder(embed_dims=D, decoder_layers=layers))
    with torch.no_grad():
        out = decoder(*decoder_inputs)
        expected = decoder_reference(decoder, *decoder_inputs)
    assert out.shape == (2, 5, 16, 24)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_decoder_stage_widths_and_layer_count():
    """The stages narrow to D / 2 and D / 4 unless told; one to three
    layers join them."""
    decoder = HierarchicalMaskDecoder(embed_dims=D, decoder_layers=(3, 2, 1))
    assert [block.norm.normalized_shape for block in decoder.upsamples] == [
        (D // 2, ), (D // 4, )]
    assert [lateral.out_features for lateral in decoder.laterals] == [
        D // 2, D // 4]
    wide = HierarchicalMaskDecoder(embed_dims=D, decoder_layers=(3, 2, 1),
                                   stage_channels=(6, 5))
    assert [block.norm.normalized_shape for block in wide.upsamples] == [
        (6, ), (5, )]
    for layers in [(), (4, 3, 2, 1)]:
        with pytest.raises(ValueError,
                           match=r'give one to three fused layers'):
            HierarchicalMaskDecoder(embed_dims=D, decoder_layers=layers)


def test_table2_flat_decoder_is_mlp_of_h_at_stride16(decoder_inputs):
    visual, fused, queries = decoder_inputs
    decoder = randomize(HierarchicalMaskDecoder(embed_dims=D,
                                                hierarchical=False))
    with torch.no_grad():
        out = decoder(visual, fused, queries)
        first, _, second = decoder.pixel_mlp
        pixels = F.linear(F.gelu(F.linear(visual.permute(0, 2, 3, 1),
                                          first.weight, first.bias)),
                          second.weight, second.bias)
    torch.testing.assert_close(
        out, torch.einsum('bnc,bhwc->bnhw', queries, pixels))


# -------------------------------------------------------------- Eq. 6-7
def per_head(queries, feats, heads):
    """M[b, h, n, t] = sum_c Q[b, n, h*d + c] A[b, h*d + c, t]."""
    batch, num, dims = queries.shape
    d = dims // heads
    out = torch.empty(batch, heads, num, feats[0, 0].numel())
    for h in range(heads):
        q = queries[..., h * d:(h + 1) * d]  # (B, N, d)
        a = feats[:, h * d:(h + 1) * d].flatten(2)  # (B, d, T)
        out[:, h] = q @ a
    return out


def conv_mlp(mlp, x):
    first, _, second = mlp
    return conv1x1(second, F.gelu(conv1x1(first, x)))


@pytest.fixture
def mask_inputs():
    torch.manual_seed(2)
    return torch.randn(2, D, 8, 8), torch.randn(2, 5, D)


def test_eq6_7_decoupled_attention_masks(mask_inputs):
    visual, queries = mask_inputs
    decoder = randomize(AttentionMaskDecoder(embed_dims=D, num_heads=2))
    with torch.no_grad():
        global_bias, local_bias = decoder(visual, queries, LAYOUT)
        a_local = conv_mlp(decoder.local_mlp, visual)  # Eq. 6
        a_global = conv_mlp(decoder.global_mlp, max_pool(visual))
    torch.testing.assert_close(local_bias, per_head(queries, a_local, 2))
    torch.testing.assert_close(global_bias, per_head(queries, a_global, 2))


def test_fig7_single_mask_decoding_changes_only_the_global_masks(
        mask_inputs):
    """Same weights: the local masks stay; the global ones become the
    max-pooled local features A instead of MLP_G(MaxPool(H))."""
    visual, queries = mask_inputs
    decoupled = randomize(AttentionMaskDecoder(embed_dims=D, num_heads=2))
    single = AttentionMaskDecoder(embed_dims=D, num_heads=2, decoupled=False)
    result = single.load_state_dict(decoupled.state_dict(), strict=False)
    assert {k.split('.')[0] for k in result.unexpected_keys} == {'global_mlp'}
    assert not result.missing_keys
    with torch.no_grad():
        global_a, local_a = decoupled(visual, queries, LAYOUT)
        global_b, local_b = single(visual, queries, LAYOUT)
        a = conv_mlp(decoupled.local_mlp, visual)
    torch.testing.assert_close(local_b, local_a)
    torch.testing.assert_close(global_b, per_head(queries, max_pool(a), 2))
    assert not torch.allclose(global_a, global_b, atol=1e-3)


def test_eq6_without_slices_masks_the_global_tokens(mask_inputs):
    layout = MultiResLayout((64, 64), (8, 8), (8.0, 8.0))
    visual, queries = mask_inputs
    for decoupled in (True, False):
        decoder = randomize(AttentionMaskDecoder(embed_dims=D, num_heads=2,
                                                 decoupled=decoupled))
        with torch.no_grad():
            global_bias, local_bias = decoder(visual, queries, layout)
            mlp = decoder.global_mlp if decoupled else decoder.local_mlp
            expected = per_head(queries, conv_mlp(mlp, visual), 2)
        assert local_bias is None
        torch.testing.assert_close(global_bias, expected)


# ------------------------------------------------------------------ Eq. 8
def cross_attention_reference(block, x, keys, values, bias):
    """One CLIP block with the queries ``x`` attending to given keys."""
    attn = block.attn
    heads, width = attn.num_heads, attn.embed_dim
    d = width // heads
    q = F.linear(block.ln_1(x), attn.in_proj_weight[:width],
                 attn.in_proj_bias[:width])
    batch, num = x.shape[:2]
    q = q.view(batch, num, heads, d).transpose(1, 2)  # (B, h, N, d)
    weights = torch.softmax(q @ keys.transpose(-1, -2) / math.sqrt(d) + bias,
                            dim=-1)
    out = (weights @ values).transpose(1, 2).reshape(batch, num, width)
    x = x + F.linear(out, attn.out_proj.weight, attn.out_proj.bias)
    return x + block.mlp(block.ln_2(x))


def slice_key_bias(local_bias, layout):
    """M_local at every slice key, slice by slice, row-major in a slice."""
    tokens = layout.slice_token_grid[0]
    width = layout.slice_grid[1]
    columns = []
    for y in layout.slice_offsets[0]:
        for x in layout.slice_offsets[1]:
            for i in range(tokens):
                for j in range(tokens):
                    columns.append(local_bias[..., (y + i) * width + x + j])
    return torch.stack(columns, dim=-1)


@pytest.fixture(scope='module')
def classifier_setup(tiny_clip_cfg, tiny_clip_checkpoint):
    backbone = MultiResCLIPViT(model_cfg=tiny_clip_cfg,
                               pretrained=tiny_clip_checkpoint,
                               clip_input_size=32, base_size=64,
                               slice_ratio=0.5, fusion_layers=(0, ),
                               classifier_start_block=3)
    torch.manual_seed(3)
    features = backbone(torch.randn(1, 3, 64, 64))
    torch.manual_seed(4)
    classifier = MultiGrainedMaskClassifier(num_queries=5, embed_dims=64,
                                            proj_dims=32)
    global_bias = 2 * torch.randn(1, 4, 5, 16)
    local_bias = 2 * torch.randn(1, 4, 5, 64)
    text = F.normalize(torch.randn(3, 32), dim=-1)
    return backbone, features, classifier, global_bias, local_bias, text


def test_eq8_multi_grained_masked_attention(classifier_setup,
                                            tiny_clip_reference):
    backbone, features, classifier, global_bias, local_bias, text = \
        classifier_setup
    assert features.layout.slice_grid == (8, 8)
    with torch.no_grad():
        logits = classifier(features, text, global_bias, local_bias)
        keys, values = features.classifier_kv[0]
        # [K_LR; K_HR] without [CLS]; bias [M_global; M_local]
        bias = torch.cat([global_bias,
                          slice_key_bias(local_bias, features.layout)],
                         dim=-1)
        queries = features.cls_token[:, None] + classifier.query_pos
        block = backbone.visual.transformer.resblocks[3]
        queries = cross_attention_reference(block, queries, keys[:, :, 1:],
                                            values[:, :, 1:], bias)
        visual = tiny_clip_reference.visual
        embeds = F.normalize(visual.ln_post(queries) @ visual.proj, dim=-1)
        classes = torch.cat(
            [text, F.normalize(classifier.no_object_embed, dim=-1)])
        # CLIP's logit scale is stored as its log
        scale = tiny_clip_reference.logit_scale.exp()
        expected = scale * embeds @ classes.t()
    assert scale > 10
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('part', ['global', 'local'])
def test_eq8_each_bias_steers_its_own_key(classifier_setup, part):
    """A query whose bias opens a single key reads exactly that key's
    value: moving that value moves the query, moving its neighbours'
    values does not."""
    _, features, classifier, _, _, _ = classifier_setup
    closed = -1e4
    global_bias = torch.full((1, 4, 5, 16), closed)
    local_bias = torch.full((1, 4, 5, 64), closed)
    num_global = features.num_global_keys  # [CLS] + 16
    if part == 'global':
        global_bias[..., 5] = 0
        key = 1 + 5  # after [CLS]
    else:
        local_bias[..., 8 * 5 + 6] = 0  # canvas token (5, 6): slice 3, (1, 2)
        key = num_global + 3 * 16 + 1 * 4 + 2
    with torch.no_grad():
        base = classifier.embed(features, global_bias, local_bias)
        for index, should_move in ((key, True), (key - 1, False),
                                   (key + 1, False)):
            kv = [(k, v.clone()) for k, v in features.classifier_kv]
            for _, values in kv:
                values[:, :, index] += 10
            features.classifier_kv, saved = kv, features.classifier_kv
            try:
                moved = classifier.embed(features, global_bias, local_bias)
            finally:
                features.classifier_kv = saved
            assert torch.allclose(moved, base, atol=1e-5) != should_move, \
                (part, index)


# ------------------------------------------------------------------ Eq. 9
def test_eq9_semantic_scores_by_hand():
    # two queries, two classes + no object
    cls_logits = torch.log(torch.tensor([[[0.6, 0.2, 0.2], [0.1, 0.3,
                                                             0.6]]]))
    mask_logits = torch.logit(torch.tensor([[[[0.9, 0.5]], [[0.2, 1.0]]]]))
    scores = MROVSegHead.semantic_scores(cls_logits, mask_logits)
    # S[k, p] = sum_n softmax(C)[n, k] sigmoid(M)[n, p], no object dropped
    # after the softmax
    expected = torch.tensor([[[[0.6 * 0.9 + 0.1 * 0.2, 0.6 * 0.5 + 0.1 * 1.0]],
                              [[0.2 * 0.9 + 0.3 * 0.2,
                                0.2 * 0.5 + 0.3 * 1.0]]]])
    torch.testing.assert_close(scores, expected)
