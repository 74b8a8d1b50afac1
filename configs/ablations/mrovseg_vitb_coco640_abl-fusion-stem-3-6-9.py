# Table 4d: fusion layers {stem, 3, 6, 9}.
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(neck=dict(fusion_layers=(0, 3, 6, 9)))
