# Table 3: crop ratio p = 0.25.
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(backbone=dict(slice_ratio=0.25))
