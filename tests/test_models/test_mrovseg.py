"""The segmentor end to end: gradients, losses, shapes, vocabulary, errors."""
import re

import pytest
import torch
from mmseg.registry import MODELS

from .tiny_model import make_batch, tiny_model_cfg


@pytest.fixture
def build(tiny_clip_cfg, tiny_clip_checkpoint):

    def _build(**overrides):
        torch.manual_seed(0)
        return MODELS.build(
            tiny_model_cfg(tiny_clip_cfg, tiny_clip_checkpoint, **overrides))

    return _build


def train_step(model, batch):
    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    return losses, total


def test_gradient_coverage_and_frozen_clip(build):
    model = build(neck=dict(deep_supervision_blocks=(0, 1)))
    model.train()
    frozen = {n: p.detach().clone() for n, p in model.named_parameters()
              if n.startswith(('backbone.', 'text_encoder.'))}
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses, total = train_step(model, make_batch([(64, 64), (64, 64)]))
    assert {'d0.loss_cls_ce', 'd1.loss_mask_dice', 'loss_mask_ce'} <= set(
        losses)
    total.backward()
    optimizer.step()
    for name, param in model.named_parameters():
        if name in frozen:
            assert not param.requires_grad, name
            assert param.grad is None, name
            assert torch.equal(param, frozen[name]), f'{name} changed'
        else:
            assert param.requires_grad, name
            assert param.grad is not None, f'{name} got no gradient'
            assert torch.isfinite(param.grad).all(), name
    assert len(frozen) > 0 and len(frozen) < len(dict(
        model.named_parameters()))


def test_image_without_labels_gives_finite_loss(build):
    model = build()
    model.train()
    losses, total = train_step(model,
                               make_batch([(64, 64)], ignore_all=True))
    assert torch.isfinite(total)
    assert losses['loss_mask_ce'].item() == 0
    assert losses['loss_mask_dice'].item() == 0
    total.backward()


@pytest.mark.parametrize('ratio', [0.0, 0.5, 0.75])
@pytest.mark.parametrize('size', [(64, 64), (48, 80), (100, 60)])
def test_predict_returns_original_size(build, ratio, size):
    model = build(backbone=dict(slice_ratio=ratio)).eval()
    batch = make_batch([size])
    with torch.no_grad():
        data = model.data_preprocessor(batch, training=False)
        results = model(**data, mode='predict')
        cls_logits, mask_logits = model(data['inputs'], mode='tensor')
    labels = results[0].pred_sem_seg.data
    assert labels.shape == (1, *size)
    assert labels.dtype == torch.int64
    assert labels.min() >= 0 and labels.max() < 3
    assert cls_logits.shape == (1, 8, 4)
    assert cls_logits.dtype == torch.float32
    assert mask_logits.shape[:2] == (1, 8)


def test_predict_at_a_resized_original_shape(build):
    model = build().eval()
    batch = make_batch([(64, 64)])
    batch['data_samples'][0].set_metainfo(dict(ori_shape=(128, 96)))
    with torch.no_grad():
        data = model.data_preprocessor(batch, training=False)
        results = model(**data, mode='predict')
    assert results[0].pred_sem_seg.data.shape == (1, 128, 96)


def test_vocabulary_changes_without_rebuild(build):
    model = build().eval()
    data = model.data_preprocessor(make_batch([(64, 64)]), training=False)
    with torch.no_grad():
        model.set_vocabulary(['a', 'b', 'c', 'd', 'e', 'f', 'g'])
        cls_logits, _ = model(data['inputs'], mode='tensor')
        assert cls_logits.shape[-1] == 8
        model.set_vocabulary(['sofa, couch', 'tree'])
        first = model(**data, mode='predict')[0].pred_sem_seg.data
        second = model(**data, mode='predict')[0].pred_sem_seg.data
    assert set(first.unique().tolist()) <= {0, 1}
    assert torch.equal(first, second)


def test_label_outside_vocabulary_is_named(build):
    model = build()
    batch = make_batch([(64, 64)])
    batch['data_samples'][0].gt_sem_seg.data[0, 0, 0] = 7
    with pytest.raises(ValueError, match=r'label value 7 in image_0.png'):
        train_step(model, batch)


def test_missing_vocabulary_is_explained(build):
    model = build(vocabulary=None).eval()
    data = model.data_preprocessor(make_batch([(64, 64)]), training=False)
    with pytest.raises(RuntimeError, match=re.escape(
            'MROVSeg has no test vocabulary: add VocabularyHook to '
            "custom_hooks (it reads the dataset's classes), pass "
            'vocabulary=... in the model config, or call '
            'model.set_vocabulary([...]).')):
        model(**data, mode='predict')


def test_bad_switch_values_are_named(build):
    with pytest.raises(ValueError, match='num_queries=0'):
        build(neck=dict(num_queries=0))
    with pytest.raises(ValueError, match="spatial_fusion='conv'"):
        build(neck=dict(spatial_fusion='conv'))
    with pytest.raises(ValueError, match=re.escape(
            'neck.num_queries=8 and decode_head.num_queries=6 must be '
            'equal: the head predicts one mask per adapter query.')):
        build(decode_head=dict(num_queries=6))
    with pytest.raises(ValueError, match='adapter does not fuse'):
        model = build(decode_head=dict(decoder_layers=(3, 2, 1))).eval()
        data = model.data_preprocessor(make_batch([(64, 64)]), False)
        model(data['inputs'], mode='tensor')


def test_training_after_predict_reuses_cached_embeddings(build):
    """predict() runs under inference_mode; the class embeddings it caches
    stay normal tensors, so a training step afterwards can backpropagate."""
    model = build().eval()
    batch = make_batch([(64, 64)])
    data = model.data_preprocessor(batch, training=False)
    with torch.inference_mode():
        results = model(**data, mode='predict')
    assert results[0].pred_sem_seg.data.is_inference()
    embeds = model.text_embeds('test')
    assert not embeds.is_inference()
    model.train()
    _, total = train_step(model, make_batch([(64, 64)]))
    total.backward()
    assert model.text_embeds('train') is embeds


def counted(forward, calls):

    def wrapper(*args, **kwargs):
        calls.append(1)
        return forward(*args, **kwargs)

    return wrapper


def test_adapter_checkpointing_gives_the_same_gradients(build):
    """with_cp recomputes the adapter blocks in backward: same numbers."""
    batch = make_batch([(64, 64), (64, 64)])
    grads = []
    for with_cp in (False, True):
        model = build(neck=dict(with_cp=with_cp)).train()
        calls, ffn = [], model.neck.blocks[0].ffn
        ffn.forward = counted(ffn.forward, calls)
        torch.manual_seed(1)  # the same sampled points in both runs
        losses, total = train_step(model, batch)
        total.backward()
        assert len(calls) == (2 if with_cp else 1)  # recomputed in backward
        grads.append((total.detach(), {
            name: param.grad for name, param in model.named_parameters()
            if param.grad is not None}))
    (loss, plain), (loss_cp, checkpointed) = grads
    torch.testing.assert_close(loss_cp, loss)
    assert plain.keys() == checkpointed.keys()
    assert any(name.startswith('neck.blocks.') for name in plain)
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name],
                                   msg=f'{name} differs')


def test_adapter_block_count_against_its_fusion_layers():
    def adapter(**kwargs):
        return MODELS.build(dict(type='MultiResAdapter', in_channels=64,
                                 embed_dims=32, num_heads=4, num_queries=8,
                                 **kwargs))

    assert len(adapter(num_blocks=1, fusion_layers=(0, )).blocks) == 1
    with pytest.raises(ValueError, match='num_blocks=0 must be >= 1'):
        adapter(num_blocks=0, fusion_layers=())
    with pytest.raises(ValueError, match=re.escape(
            'fusion_layers=(0, 2, 4) has more layers than the adapter has '
            'blocks (num_blocks=2).')):
        adapter(num_blocks=2, fusion_layers=(0, 2, 4))



def test_loss_matches_targets_on_the_input_not_the_canvas():
    """A 64 x 72 input whose slice canvas is 72 x 72 (logits 18 x 18 at
    stride 4, 16 x 18 of them over the input): a query whose logits cover
    the input's top half exactly (canvas rows 0-31) matches a top-half
    target only if the loss reads the logits' input region."""
    from mmengine.structures import InstanceData

    from mrovseg_mmseg.models.decode_heads.mrovseg_head import HeadOutput
    head = MODELS.build(
        dict(type='MROVSegHead', embed_dims=32, clip_heads=4, clip_dims=64,
             clip_proj_dims=32, num_queries=3, decoder_layers=(2, )))
    target = torch.zeros(1, 64, 72)
    target[:, :32] = 1
    gt = [InstanceData(labels=torch.tensor([0]), masks=target)]
    cls_logits = torch.full((1, 3, 3), -10.0)
    cls_logits[0, 0, 0] = cls_logits[0, 1:, 2] = 10.0
    mask_logits = torch.full((1, 3, 18, 18), -20.0)
    mask_logits[0, 0, :8] = 20.0

    def losses(logits, region):
        torch.manual_seed(0)
        return {
            key: float(value)
            for key, value in head.loss_by_feat(
                HeadOutput(cls_logits, logits, region), gt).items()
        }

    # the same logits drawn directly on the input's 16 x 18 grid
    on_input = losses(mask_logits[..., :16, :], None)
    assert losses(mask_logits, (16.0, 18.0)) == pytest.approx(on_input)
    stretched = losses(mask_logits, None)
    assert stretched['loss_mask_dice'] > 2 * on_input['loss_mask_dice']
    assert stretched['loss_mask_ce'] > 2 * on_input['loss_mask_ce']
