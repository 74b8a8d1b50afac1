# MROVSeg, CLIP ViT-L/14, trained on COCO-Stuff-171 at 1024x1024 for the
# high-resolution setting (paper Sec. 4.2, Fig. 6): slices of p x 1024 px.
_base_ = ['./mrovseg_vitl_coco640.py']
crop_size = (1024, 1024)
# Slices enter CLIP at their own resolution (512 px windows -> 518 px, 37 x 37
# tokens of 14 px), as in the ViT-B/16 1024 config (512 px, 32 x 32 tokens of
# 16 px): the 640 base's slice_input_size=336 would shrink them to 336 px and
# confound the backbone comparison of Fig. 6 with a lower slice resolution.
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(base_size=1024, slice_input_size=None))
train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotations16'),
    dict(type='CheckLabels'),
    dict(
        type='RandomResize',
        scale=(4096, 1024),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
