# MROVSeg on the material world with a tiny CLIP pretrained on this machine
# (tools/pretrain_clip.py writes the checkpoint this config loads, frozen).
# Segmentation training sees 8 materials; testing names all 12, so the 4
# unseen ones can only be named through the CLIP's knowledge.
_base_ = [
    '../_base_/models/mrovseg_tiny.py',
    '../_base_/datasets/material_world64.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_60k_adamw.py'
]
clip_checkpoint = 'work_dirs/zero_shot_demo/clip/tiny_clip_materials.pth'
# captions are short: a 32-token context (instead of 77) halves text cost
model = dict(
    backbone=dict(
        model_cfg=dict(text_cfg=dict(context_length=32)),
        pretrained=clip_checkpoint),
    text_encoder=dict(
        model_cfg=dict(text_cfg=dict(context_length=32)),
        pretrained=clip_checkpoint))
max_iters = 500
optim_wrapper = dict(optimizer=dict(lr=1e-3), clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
