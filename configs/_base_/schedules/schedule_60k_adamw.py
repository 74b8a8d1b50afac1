# Paper App. B.1: AdamW, base lr 2e-4, weight decay 1e-4, poly decay (power
# 0.9). The paper states no iteration count; 60k iterations at 8 GPUs x 4
# images is SAN's schedule for the same data.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=1e-4),
    paramwise_cfg=dict(
        custom_keys={
            'query_pos': dict(decay_mult=0.0),
            'no_object_embed': dict(decay_mult=0.0),
            'neck.queries': dict(decay_mult=0.0),
        },
        norm_decay_mult=0.0),
    clip_grad=dict(max_norm=0.01, norm_type=2))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=60000,
        by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=60000, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # crash-safe: a killed job never leaves a partial checkpoint behind
    checkpoint=dict(
        type='AtomicCheckpointHook',
        by_epoch=False,
        interval=5000,
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
