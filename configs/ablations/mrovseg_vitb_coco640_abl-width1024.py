# Table 4e: adapter width 1024 (16 heads).
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(
    neck=dict(embed_dims=1024, num_heads=16), decode_head=dict(embed_dims=1024))
