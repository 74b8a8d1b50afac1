# Table 4e: adapter width 384.
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(
    neck=dict(embed_dims=384, num_heads=12), decode_head=dict(embed_dims=384))
