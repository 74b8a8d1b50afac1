# PASCAL-Context-59 test split for zero-shot evaluation. It defines no training
# set, so it combines with any training config; data and protocol are
# those of ../datasets/pascal_context59.py, which says how to prepare them.
zero_shot_ignore_index = 255
zero_shot_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(
        type='DefaultSampler',
        shuffle=False),
    dataset=dict(
        type='PascalContext59Dataset',
        data_root='data/VOCdevkit/VOC2010',
        ann_file='ImageSets/SegmentationContext/val.txt',
        data_prefix=dict(
            img_path='JPEGImages',
            seg_map_path='SegmentationClassContext'),
        pipeline=[
            dict(
                type='LoadImageChecked'),
            dict(
                type='Resize',
                scale=(2560, 640),
                keep_ratio=True),
            dict(
                type='LoadAnnotations16'),
            dict(
                type='CheckLabels'),
            dict(
                type='PackSegInputs'),
        ]))
zero_shot_evaluator = dict(
    _delete_=True,
    type='IoUMetric',
    iou_metrics=[
        'mIoU',
    ],
    ignore_index=255)
