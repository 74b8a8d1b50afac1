# MROVSeg on the detail-twin world with a tiny CLIP pretrained on its
# captions (tools/pretrain_clip.py writes the checkpoint this config loads,
# frozen). Small checkered objects and thin bars can only be told from their
# plain twins in the full-resolution slices: the resolution claim's test.
_base_ = [
    '../_base_/models/mrovseg_tiny.py',
    '../_base_/datasets/detail_twin_world64.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_60k_adamw.py'
]
clip_checkpoint = 'work_dirs/resolution_claim/clip/tiny_clip_twins.pth'
# captions are short: a 32-token context (instead of 77) halves text cost
model = dict(
    backbone=dict(
        model_cfg=dict(text_cfg=dict(context_length=32)),
        pretrained=clip_checkpoint),
    text_encoder=dict(
        model_cfg=dict(text_cfg=dict(context_length=32)),
        pretrained=clip_checkpoint))
max_iters = 800
optim_wrapper = dict(optimizer=dict(lr=1e-3), clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
