# PASCAL VOC-20 test split for zero-shot evaluation. It defines no training
# set, so it combines with any training config; data and protocol are
# those of ../datasets/voc20.py, which says how to prepare them.
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
        type='PascalVOC20Dataset',
        data_root='data/VOCdevkit/VOC2012',
        ann_file='ImageSets/Segmentation/val.txt',
        data_prefix=dict(
            img_path='JPEGImages',
            seg_map_path='SegmentationClass'),
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
