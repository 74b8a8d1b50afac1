# ADE-847 test split for zero-shot evaluation. It defines no training
# set, so it combines with any training config; data and protocol are
# those of ../datasets/ade847.py, which says how to prepare them.
zero_shot_ignore_index = 65535
zero_shot_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(
        type='DefaultSampler',
        shuffle=False),
    dataset=dict(
        type='ADE847Dataset',
        data_root='data/ade/ADE20K_2021_17_01',
        data_prefix=dict(
            img_path='images_847/validation',
            seg_map_path='annotations_847/validation'),
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
    ignore_index=65535)
