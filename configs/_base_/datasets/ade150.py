# ADE-150 (ADEChallengeData2016): zero-shot benchmark, 150 classes.
# uint8 labels, 0 = unlabelled -> ignored (reduce_zero_label).
# Prepare:
#   python tools/dataset_converters/ade20k_150.py data/ade/ADEChallengeData2016
# (archives and folder layout: docs/datasets.md)
dataset_type = 'ADE150Dataset'
data_root = 'data/ade/ADEChallengeData2016'
crop_size = (640, 640)
# Unlabelled pixels; training on this dataset needs the same value in
# model.data_preprocessor.seg_pad_val and model.decode_head.ignore_index.
ignore_index = 255
train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotations16'),
    dict(type='CheckLabels'),
    dict(
        type='RandomResize',
        scale=(2560, 640),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(
        type='RandomCrop',
        crop_size=crop_size,
        cat_max_ratio=0.75,
        ignore_index=ignore_index),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
# Paper protocol: short side resized to 640 (long side at most 2560), no
# test-time augmentation; labels stay at the original resolution.
test_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='Resize', scale=(2560, 640), keep_ratio=True),
    dict(type='LoadAnnotations16'),
    dict(type='CheckLabels'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='images/validation',
            seg_map_path='annotations/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='IoUMetric', iou_metrics=['mIoU'], ignore_index=ignore_index)
test_evaluator = val_evaluator
