# Generated scenes of 12 named materials (written on first use under
# data_root). Segmentation training sees the 8 seen materials only; the
# held-out scenes hold all 12, and the metric reports seen and unseen mIoU.
dataset_type = 'MaterialWorldDataset'
data_root = 'data/material_world'
crop_size = (64, 64)
seen_classes = ('grass', 'sand', 'brick', 'snow', 'lava', 'heather', 'ice',
                'coral')
unseen_classes = ('water', 'asphalt', 'wood', 'moss')
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='CheckLabels', num_classes=len(seen_classes)),
    dict(
        type='RandomResize',
        scale=(64, 64),
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='CheckLabels', num_classes=len(seen_classes + unseen_classes)),
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
        metainfo=dict(classes=seen_classes),
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
        data_prefix=dict(img_path='images/val', seg_map_path='annotations/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='OpenVocabIoUMetric',
    iou_metrics=['mIoU'],
    unseen_classes=unseen_classes,
    small_area=256,
    small_margin=2)
test_evaluator = val_evaluator
