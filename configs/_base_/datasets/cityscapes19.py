# Cityscapes: high-resolution zero-shot benchmark, 19 classes.
# uint8 train-id labels (*_gtFine_labelTrainIds.png), 255 = not evaluated.
# Prepare:
#   python tools/dataset_converters/cityscapes.py data/cityscapes
# (archives and folder layout: docs/datasets.md)
dataset_type = 'CityscapesOVDataset'
data_root = 'data/cityscapes'
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
        scale=(2048, 1024),
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
# Paper protocol for Cityscapes: the full 2048x1024 images, no test-time
# augmentation.
test_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
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
            img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
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
            img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='IoUMetric', iou_metrics=['mIoU'], ignore_index=ignore_index)
test_evaluator = val_evaluator
