"""Multi-grained masked-attention classifier reuses CLIP's [CLS] path."""
import pytest
import torch
import torch.nn.functional as F

from mrovseg_mmseg.models.backbones import MultiResCLIPViT
from mrovseg_mmseg.models.decode_heads import MultiGrainedMaskClassifier


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
    classifier = build_classifier()
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
        global_only = build_classifier(use_local_tokens=False).embed(features)
        multi_grained = build_classifier().embed(features)
    torch.testing.assert_close(global_only,
                               expected[:, None].expand_as(global_only),
                               rtol=1e-5, atol=1e-5)
    assert not torch.allclose(multi_grained, global_only, atol=1e-4)


def test_bias_steers_attention_and_logits_shape(tiny_clip_cfg,
                                                tiny_clip_checkpoint):
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
    assert logits.abs().max() <= features.clip_tail.logit_scale + 1e-4
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
