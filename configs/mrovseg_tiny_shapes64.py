# A tiny MROVSeg on the synthetic shapes dataset: runs the whole pipeline
# (training, mIoU, overlays) on a CPU in minutes with no download. The CLIP is
# a randomly initialized 4-block ViT (32 px views, 8 px patches), so this
# config shows the machinery working, not CLIP's open-vocabulary knowledge
# (configs/zero_shot_demo/ shows that, with a CLIP pretrained here).
_base_ = [
    './_base_/models/mrovseg_tiny.py',
    './_base_/datasets/synthetic_shapes64.py',
    './_base_/default_runtime.py', './_base_/schedules/schedule_60k_adamw.py'
]
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
