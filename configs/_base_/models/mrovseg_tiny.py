# A tiny MROVSeg for CPU runs: a 4-block ViT CLIP (32 px views, 8 px patches,
# so 4 x 4 tokens per view) on 64 x 64 inputs; the global view sees the image
# at half resolution, the 2 x 2 slices at full resolution.
_base_ = ['./mrovseg_vit-b16.py']
tiny_clip = dict(
    embed_dim=64,
    vision_cfg=dict(
        image_size=32, layers=4, width=96, patch_size=8, head_width=24),
    text_cfg=dict(
        context_length=77, vocab_size=49408, width=64, heads=4, layers=2))
model = dict(
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(
        model_name=None,
        model_cfg=tiny_clip,
        pretrained=None,
        clip_input_size=32,
        base_size=64,
        fusion_layers=(0, 1, 2, 3, 4),
        classifier_start_block=2),
    text_encoder=dict(
        model_name=None,
        model_cfg=tiny_clip,
        pretrained=None,
        templates='single',
        cache_dir=None),
    neck=dict(
        in_channels=96,
        embed_dims=64,
        num_heads=4,
        num_blocks=3,
        num_queries=16,
        fusion_layers=(0, 2, 4)),
    decode_head=dict(
        embed_dims=64,
        clip_heads=4,
        clip_dims=96,
        clip_proj_dims=64,
        num_queries=16,
        decoder_layers=(4, 2, 0),
        num_points=1024))
