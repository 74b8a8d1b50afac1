# Table 3: crop ratio p = 1.0 (the 640 px image itself as one high-resolution view).
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(backbone=dict(slice_ratio=1.0))
