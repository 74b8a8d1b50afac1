# A tiny MROVSeg on the synthetic shapes dataset: runs the whole pipeline
# (training, mIoU, overlays) on a CPU in minutes with no download. The CLIP is
# a randomly initialized 4-block ViT (32 px views, 8 px patches), so this
# config shows the machinery working, not CLIP's open-vocabulary knowledge.
_base_ = [
    './_base_/models/mrovseg_vit-b16.py',
    './_base_/datasets/synthetic_shapes64.py',
    './_base_/default_runtime.py', './_base_/schedules/schedule_60k_adamw.py'
]
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
max_iters = 600
optim_wrapper = dict(optimizer=dict(lr=1e-3), clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=200, max_keep_ckpts=2))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
