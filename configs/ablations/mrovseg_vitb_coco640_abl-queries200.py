# Table 4f: 200 queries.
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(neck=dict(num_queries=200), decode_head=dict(num_queries=200))
