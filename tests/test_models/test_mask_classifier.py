"""Multi-grained masked-attention classifier reuses CLIP's [CLS] path."""
import re
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from mrovseg_mmseg.models.backbones import MultiResCLIPViT
from mrovseg_mmseg.models.decode_heads import MultiGrainedMaskClassifier
from mrovseg_mmseg.models.decode_heads.mask_classifier import _masked
from mrovseg_mmseg.models.utils.clip_block import project_qkv


def build_backbone(cfg, ckpt, **kwargs):
    args = dict(model_cfg=cfg, pretrained=ckpt, clip_input_size=32,
                base_size=64, slice_ratio=0.0, fusion_layers=(0, ),
                classifier_start_block=2)
    args.update(kwargs)
    return MultiResCLIPViT(**args)


def build_classifier(**kwargs):
    classifier = MultiGrainedMaskClassifier(num_queries=5, embed_dims=64,
                                            proj_dims=32, **kwargs)
    with torch.no_grad():
        classifier.query_pos.zero_()
    return classifier


def test_queries_reproduce_encode_image(tiny_clip_cfg, tiny_clip_checkpoint,
                                        tiny_clip_reference):
    backbone = build_backbone(tiny_clip_cfg, tiny_clip_checkpoint)
    classifier = build_classifier(attend_cls_key=True)
    images = torch.randn(2, 3, 32, 32)
    features = backbone(images)
    zeros = torch.zeros(2, 4, 5, 16)
    with torch.no_grad():
        embeds = classifier.embed(features, global_bias=zeros)
        expected = F.normalize(tiny_clip_reference.encode_image(images), dim=-1)
    assert embeds.shape == (2, 5, 32)
    torch.testing.assert_close(embeds, expected[:, None].expand_as(embeds),
                               rtol=1e-5, atol=1e-5)


def test_without_local_tokens_the_global_view_decides(
        tiny_clip_cfg, tiny_clip_checkpoint, tiny_clip_reference):
    backbone = build_backbone(tiny_clip_cfg, tiny_clip_checkpoint,
                              slice_ratio=0.5)
    images = torch.randn(1, 3, 64, 64)
    features = backbone(images)
    view = F.interpolate(images, size=(32, 32), mode='bilinear',
                         align_corners=False, antialias=True)
    with torch.no_grad():
        expected = F.normalize(tiny_clip_reference.encode_image(view), dim=-1)
        global_only = build_classifier(
            use_local_tokens=False, attend_cls_key=True).embed(features)
        multi_grained = build_classifier(attend_cls_key=True).embed(features)
    torch.testing.assert_close(global_only,
                               expected[:, None].expand_as(global_only),
                               rtol=1e-5, atol=1e-5)
    assert not torch.allclose(multi_grained, global_only, atol=1e-4)


def test_bias_steers_attention_and_logits_shape(tiny_clip_cfg,
                                                tiny_clip_checkpoint,
                                                tiny_clip_reference):
    backbone = build_backbone(tiny_clip_cfg, tiny_clip_checkpoint,
                              slice_ratio=0.5)
    classifier = build_classifier()
    features = backbone(torch.randn(1, 3, 64, 64))
    global_bias = torch.zeros(1, 4, 5, 16, requires_grad=True)
    local_bias = torch.zeros(1, 4, 5, 64)
    local_bias[:, :, 0, :32] = -1e4
    text = F.normalize(torch.randn(3, 32), dim=-1)
    logits = classifier(features, text, global_bias, local_bias)
    assert logits.shape == (1, 5, 4)
    assert not torch.allclose(logits[0, 0], logits[0, 1], atol=1e-4)
    torch.testing.assert_close(logits[0, 1], logits[0, 2])
    # CLIP stores log(scale); cosine similarities are multiplied by scale
    scale = tiny_clip_reference.logit_scale.exp()
    torch.testing.assert_close(features.clip_tail.logit_scale, scale)
    with torch.no_grad():
        embeds = classifier.embed(features, global_bias, local_bias)
        no_object = F.normalize(classifier.no_object_embed, dim=-1)
        cosine = embeds @ torch.cat([text, no_object]).t()
    torch.testing.assert_close(logits.detach(), scale * cosine)
    logits.sum().backward()
    assert torch.isfinite(global_bias.grad).all()
    assert global_bias.grad.abs().sum() > 0
    assert classifier.query_pos.grad is not None
    assert classifier.no_object_embed.grad is not None


def test_trainable_parameters(tiny_clip_cfg, tiny_clip_checkpoint):
    classifier = build_classifier()
    names = {n for n, p in classifier.named_parameters() if p.requires_grad}
    assert names == {'query_pos', 'no_object_embed'}
    with pytest.raises(ValueError, match='num_queries=0'):
        MultiGrainedMaskClassifier(num_queries=0, embed_dims=64, proj_dims=32)


def _perturbed(features, indices, amount=50.0):
    """A copy of ``features`` whose values at key ``indices`` are moved."""
    kv = []
    for keys, values in features.classifier_kv:
        values = values.clone()
        values[:, :, indices] += amount
        kv.append((keys, values))
    return replace(features, classifier_kv=kv)


@pytest.fixture
def padded_features(tiny_clip_cfg, tiny_clip_checkpoint):
    """A 64 x 85 image: the global view pads a token row, the slice canvas
    (2 x 3 windows of 32 px) a token column."""
    backbone = build_backbone(tiny_clip_cfg, tiny_clip_checkpoint,
                              slice_ratio=0.5, fusion_layers=(0, 2))
    torch.manual_seed(3)
    return backbone(torch.randn(1, 3, 64, 85))


def test_keys_that_show_no_image_get_no_attention(padded_features):
    features = padded_features
    layout = features.layout
    assert layout.global_valid == (3, 4) and layout.slice_valid == (8, 11)
    num_global = features.num_global_keys
    padded = torch.cat([
        1 + (~layout.global_key_valid()).nonzero().flatten(),
        num_global + (~layout.slice_key_valid()).nonzero().flatten()
    ])
    assert len(padded) == 4 + 2 * 4  # a global row, a slice column
    classifier = build_classifier()
    torch.manual_seed(4)
    global_bias = torch.randn(1, 4, 5, 16)
    local_bias = torch.randn(1, 4, 5, 8 * 12)
    with torch.no_grad():
        embeds = classifier.embed(features, global_bias, local_bias)
        moved = classifier.embed(_perturbed(features, padded), global_bias,
                                 local_bias)
        valid_moved = classifier.embed(_perturbed(features, [1, num_global]),
                                       global_bias, local_bias)
    torch.testing.assert_close(moved, embeds, rtol=0, atol=1e-6)
    assert not torch.allclose(valid_moved, embeds, atol=1e-3)


@pytest.mark.parametrize('attend_cls_key', [False, True])
def test_cls_key_switch(padded_features, attend_cls_key):
    classifier = build_classifier(attend_cls_key=attend_cls_key)
    with torch.no_grad():
        embeds = classifier.embed(padded_features)
        moved = classifier.embed(_perturbed(padded_features, [0]))
    assert torch.allclose(moved, embeds, atol=1e-6) != attend_cls_key


@pytest.mark.parametrize('ratio', [0.5, 0.75])
def test_high_resolution_keys_sit_at_their_tokens(tiny_clip_cfg,
                                                  tiny_clip_checkpoint,
                                                  ratio):
    """Each slice key is the key of the slice token the layout places at its
    position (where no other slice overlaps it, the restored map holds
    exactly that token)."""
    backbone = build_backbone(tiny_clip_cfg, tiny_clip_checkpoint,
                              slice_ratio=ratio, fusion_layers=(2, ))
    torch.manual_seed(5)
    features = backbone(torch.randn(1, 3, 64, 85))
    layout = features.layout
    assert layout.has_slices
    restored = features.slice_maps[0]  # layer 2 = input of block 2
    block = backbone.visual.transformer.resblocks[2]
    # (1, C, H', W') -> (1, H'W', C) -> keys (1, heads, H'W', d)
    _, reference, _ = project_qkv(block, restored.flatten(2).transpose(1, 2))
    positions = layout.slice_key_positions()
    counts = torch.bincount(positions, minlength=reference.shape[2])
    single = counts[positions] == 1
    if ratio > 0.5:
        assert (~single).any(), 'an overlapping grid overlaps somewhere'
    keys = features.classifier_kv[0][0][:, :, features.num_global_keys:]
    torch.testing.assert_close(keys[:, :, single],
                               reference[:, :, positions[single]],
                               rtol=1e-5, atol=1e-5)


def test_learned_embeddings_start_at_std_0_02():
    torch.manual_seed(0)
    classifier = MultiGrainedMaskClassifier(num_queries=100, embed_dims=64,
                                            proj_dims=32)
    assert 0.018 < float(classifier.query_pos.std()) < 0.022
    assert 0.01 < float(classifier.no_object_embed.std()) < 0.03


def test_features_from_another_backbone_are_refused(tiny_clip_cfg,
                                                    tiny_clip_checkpoint):
    backbone = build_backbone(tiny_clip_cfg, tiny_clip_checkpoint)
    features = backbone(torch.randn(1, 3, 32, 32))
    classifier = build_classifier()
    short = replace(features, classifier_kv=features.classifier_kv[:-1])
    with pytest.raises(ValueError, match=re.escape(
            'features.classifier_kv does not match the CLIP blocks of '
            'features.clip_tail.')):
        classifier.embed(short)
    without = build_backbone(tiny_clip_cfg, tiny_clip_checkpoint,
                             classifier_start_block=None)
    with pytest.raises(ValueError, match=re.escape(
            'the backbone was built without a classifier start block '
            '(classifier_start_block=None).')):
        classifier.embed(without(torch.randn(1, 3, 32, 32)))


def test_padding_mask_values_dtype_and_device():
    """-inf where a key shows no image; a missing bias is a zero bias of
    the given dtype on the mask's device ('meta' stands for a GPU)."""
    valid = torch.tensor([True, False, True])
    torch.testing.assert_close(
        _masked(None, valid, torch.float16),
        torch.tensor([0, float('-inf'), 0], dtype=torch.float16))
    torch.testing.assert_close(
        _masked(torch.tensor([[1.0, 2.0, 3.0]]), valid, torch.float32),
        torch.tensor([[1.0, float('-inf'), 3.0]]))
    on_meta = _masked(None, valid.to('meta'), torch.float16)
    assert on_meta.device.type == 'meta' and on_meta.dtype == torch.float16


@pytest.mark.parametrize('attend_cls_key', [False, True])
def test_cls_key_switch_from_a_head_config(padded_features, attend_cls_key):
    from mmseg.registry import MODELS
    head = MODELS.build(
        dict(type='MROVSegHead', embed_dims=32, clip_heads=4, clip_dims=64,
             clip_proj_dims=32, num_queries=5, decoder_layers=(2, ),
             attend_cls_key=attend_cls_key))
    with torch.no_grad():
        head.classifier.query_pos.zero_()
        embeds = head.classifier.embed(padded_features)
        moved = head.classifier.embed(_perturbed(padded_features, [0]))
    assert torch.allclose(moved, embeds, atol=1e-6) != attend_cls_key
