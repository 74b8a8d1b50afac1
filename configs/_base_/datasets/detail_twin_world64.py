# Generated 64 x 64 scenes of detail twins (plain / checkered, same mean
# colour) and colour pairs, written on first use under data_root with an
# instance map per scene. Training sees all 12 classes; the held-out scenes
# are scored per object (naming and instance IoU by kind) and per pixel.
# Only flips augment: resizing by a non-integer factor would alias the
# period-2 detail that names small objects.
dataset_type = 'DetailTwinWorldDataset'
data_root = 'data/detail_twin_world'
world_seed = 2026
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='CheckLabels', num_classes=12),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='CheckLabels', num_classes=12),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        seed=world_seed,
        data_prefix=dict(
            img_path='images/train', seg_map_path='annotations/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        seed=world_seed,
        data_prefix=dict(img_path='images/val', seg_map_path='annotations/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='ObjectNamingMetric'),
]
test_evaluator = val_evaluator
