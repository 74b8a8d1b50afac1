"""The multi-resolution CLIP backbone against open_clip itself."""
import pytest
import torch
import torch.nn.functional as F

from mrovseg_mmseg.models.backbones import MultiResCLIPViT


def build(cfg, ckpt, **kwargs):
    args = dict(model_cfg=cfg, pretrained=ckpt, clip_input_size=32,
                base_size=64, slice_ratio=0.0, fusion_layers=(0, 1, 2, 3, 4),
                classifier_start_block=2)
    args.update(kwargs)
    return MultiResCLIPViT(**args)


def test_global_tokens_equal_open_clip_intermediates(
        tiny_clip_cfg, tiny_clip_checkpoint, tiny_clip_reference):
    backbone = build(tiny_clip_cfg, tiny_clip_checkpoint)
    torch.manual_seed(1)
    images = torch.randn(2, 3, 32, 32)
    features = backbone(images)
    visual = tiny_clip_reference.visual
    with torch.no_grad():
        reference = visual.forward_intermediates(
            images, indices=[0, 1, 2, 3], output_fmt='NCHW',
            intermediates_only=True)['image_intermediates']
        # open_clip exposes block outputs only; its stem is its _embeds step
        stem = visual._embeds(images)[:, 1:]
    assert features.slice_maps == []
    torch.testing.assert_close(features.global_maps[0],
                               stem.transpose(1, 2).reshape(2, 64, 4, 4))
    for layer in (1, 2, 3, 4):
        torch.testing.assert_close(features.global_maps[layer],
                                   reference[layer - 1], rtol=1e-5,
                                   atol=1e-5)


def test_slice_maps_are_per_slice_clip_tokens_in_grid_order(
        tiny_clip_cfg, tiny_clip_checkpoint, tiny_clip_reference):
    backbone = build(tiny_clip_cfg, tiny_clip_checkpoint, slice_ratio=0.5,
                     fusion_layers=(3, ))
    torch.manual_seed(2)
    images = torch.randn(1, 3, 64, 96)
    features = backbone(images)
    assert features.layout.slice_offsets == ((0, 4), (0, 4, 8))
    assert features.layout.slice_grid == (8, 12)
    restored = features.slice_maps[0]
    assert restored.shape == (1, 64, 8, 12)
    visual = tiny_clip_reference.visual
    for row in range(2):
        for col in range(3):
            crop = images[:, :, row * 32:(row + 1) * 32, col * 32:(col + 1) * 32]
            with torch.no_grad():
                expected = visual.forward_intermediates(
                    crop, indices=[2], intermediates_only=True,
                    output_fmt='NCHW')['image_intermediates'][0]
            torch.testing.assert_close(
                restored[:, :, row * 4:(row + 1) * 4, col * 4:(col + 1) * 4],
                expected, rtol=1e-5, atol=1e-5)


def test_position_embedding_interpolated_to_clip_input(tiny_clip_cfg,
                                                       tiny_clip_checkpoint):
    backbone = build(tiny_clip_cfg, tiny_clip_checkpoint, clip_input_size=48,
                     slice_ratio=0.5, base_size=96)
    features = backbone(torch.randn(1, 3, 96, 96))
    assert features.global_maps[0].shape == (1, 64, 6, 6)
    assert features.slice_maps[0].shape == (1, 64, 12, 12)
    assert all(torch.isfinite(m).all() for m in features.slice_maps)


def test_clip_is_frozen_and_stays_in_eval(tiny_clip_cfg,
                                          tiny_clip_checkpoint):
    backbone = build(tiny_clip_cfg, tiny_clip_checkpoint)
    backbone.train()
    assert not backbone.visual.training
    assert not any(p.requires_grad for p in backbone.parameters())


def test_view_chunks_give_same_features(tiny_clip_cfg, tiny_clip_checkpoint):
    images = torch.randn(2, 3, 64, 64)
    whole = build(tiny_clip_cfg, tiny_clip_checkpoint, slice_ratio=0.5)
    chunked = build(tiny_clip_cfg, tiny_clip_checkpoint, slice_ratio=0.5,
                    max_views_per_pass=3)
    a, b = whole(images), chunked(images)
    for x, y in zip(a.slice_maps + a.global_maps, b.slice_maps + b.global_maps):
        torch.testing.assert_close(x, y)
    for (k1, v1), (k2, v2) in zip(a.classifier_kv, b.classifier_kv):
        torch.testing.assert_close(k1, k2)
        torch.testing.assert_close(v1, v2)


def test_bad_config_values_are_named(tiny_clip_cfg, tiny_clip_checkpoint):
    with pytest.raises(ValueError, match='slice_ratio=1.5'):
        build(tiny_clip_cfg, tiny_clip_checkpoint, slice_ratio=1.5)
    with pytest.raises(ValueError, match='classifier_start_block=4'):
        build(tiny_clip_cfg, tiny_clip_checkpoint, classifier_start_block=4)
    with pytest.raises(ValueError, match=r'fusion_layers=\(0, 7\)'):
        build(tiny_clip_cfg, tiny_clip_checkpoint, fusion_layers=(0, 7))
    with pytest.raises(ValueError, match='clip_input_size=30'):
        build(tiny_clip_cfg, tiny_clip_checkpoint, clip_input_size=30)
    for size in (0, 12):
        with pytest.raises(ValueError, match=(
                f'slice_input_size={size} must be a positive multiple of the '
                'CLIP patch size 8')):
            build(tiny_clip_cfg, tiny_clip_checkpoint, slice_input_size=size)


def test_mismatched_checkpoint_names_file(tiny_clip_cfg, tiny_clip_checkpoint):
    other = dict(tiny_clip_cfg)
    other['vision_cfg'] = dict(tiny_clip_cfg['vision_cfg'], layers=2)
    with pytest.raises(ValueError, match='tiny_clip.pt'):
        build(other, tiny_clip_checkpoint)
    with pytest.raises(FileNotFoundError, match='missing.pt'):
        build(tiny_clip_cfg, '/nonexistent/missing.pt')


def test_unknown_tag_and_offline_download_give_actionable_error(
        monkeypatch, tmp_path):
    import open_clip
    with pytest.raises(ValueError, match="pretrained='no-such-tag'"):
        MultiResCLIPViT(model_name='ViT-B-16', pretrained='no-such-tag')

    def offline(*args, **kwargs):
        raise OSError('network is unreachable')

    monkeypatch.setattr(open_clip, 'create_model', offline)
    with pytest.raises(RuntimeError, match='pretrained="/path/to/checkpoint"'):
        MultiResCLIPViT(model_name='ViT-B-16', pretrained='openai',
                        clip_cache_dir=str(tmp_path))


def test_global_view_of_non_square_image_is_resized_and_padded(
        tiny_clip_cfg, tiny_clip_checkpoint, tiny_clip_reference):
    backbone = build(tiny_clip_cfg, tiny_clip_checkpoint, fusion_layers=(4, ))
    images = torch.randn(1, 3, 40, 80)
    features = backbone(images)
    assert features.layout.global_valid == (2, 4)
    view = F.pad(F.interpolate(images, size=(16, 32), mode='bilinear',
                               align_corners=False, antialias=True),
                 (0, 0, 0, 16))
    with torch.no_grad():
        expected = tiny_clip_reference.visual.forward_intermediates(
            view, indices=[3], intermediates_only=True,
            output_fmt='NCHW')['image_intermediates'][0]
    torch.testing.assert_close(features.global_maps[0], expected, rtol=1e-5,
                               atol=1e-5)


def test_position_embedding_rows_stay_rows():
    """Resizing keeps the embedding's layout: a grid whose channel 0 is the
    token row and channel 1 the token column still varies by row in channel
    0 and by column in channel 1, on a grid of another aspect ratio."""
    from mrovseg_mmseg.models.utils.clip_block import interpolate_pos_embed
    rows, cols = torch.meshgrid(torch.arange(4.), torch.arange(4.),
                                indexing='ij')
    grid = torch.stack([rows, cols], dim=-1).reshape(16, 2)  # (h*w, C)
    pos = torch.cat([torch.tensor([[-7.0, 7.0]]), grid])  # [CLS] first
    out = interpolate_pos_embed(pos, (4, 4), (6, 10))
    assert out.shape == (61, 2)
    torch.testing.assert_close(out[0], pos[0])
    row_part = out[1:, 0].reshape(6, 10)
    col_part = out[1:, 1].reshape(6, 10)
    torch.testing.assert_close(row_part, row_part[:, :1].expand(6, 10))
    torch.testing.assert_close(col_part, col_part[:1].expand(6, 10))
    assert (row_part[1:, 0] > row_part[:-1, 0]).all()
    assert (col_part[0, 1:] > col_part[0, :-1]).all()
    # resized the way ViTs' embeddings are: bicubic, half-pixel centres
    expected = F.interpolate(rows[None, None], size=(6, 10), mode='bicubic',
                             align_corners=False)[0, 0]
    torch.testing.assert_close(row_part, expected)
    assert interpolate_pos_embed(pos, (4, 4), (4, 4)) is pos


def test_slices_resized_to_slice_input_size_are_antialiased(
        tiny_clip_cfg, tiny_clip_checkpoint, tiny_clip_reference):
    """slice_input_size: 64 px windows enter CLIP at 32 px, low-pass
    filtered as the global view is."""
    backbone = build(tiny_clip_cfg, tiny_clip_checkpoint, slice_ratio=0.5,
                     base_size=128, slice_input_size=32, fusion_layers=(2, ))
    torch.manual_seed(6)
    images = torch.randn(1, 3, 128, 128)
    features = backbone(images)
    assert features.layout.slice_grid == (8, 8)
    assert features.layout.slice_token_pixels == (16.0, 16.0)
    visual = tiny_clip_reference.visual
    for row, col in ((0, 0), (0, 1), (1, 0), (1, 1)):
        crop = images[:, :, row * 64:(row + 1) * 64, col * 64:(col + 1) * 64]
        view = F.interpolate(crop, size=(32, 32), mode='bilinear',
                             align_corners=False, antialias=True)
        with torch.no_grad():
            expected = visual.forward_intermediates(
                view, indices=[1], intermediates_only=True,
                output_fmt='NCHW')['image_intermediates'][0]
        torch.testing.assert_close(
            features.slice_maps[0][:, :, row * 4:(row + 1) * 4,
                                   col * 4:(col + 1) * 4],
            expected, rtol=1e-5, atol=1e-5)
