# Table 4d: fusion layers {3, 6, 9, 12}.
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(neck=dict(fusion_layers=(3, 6, 9, 12)))
