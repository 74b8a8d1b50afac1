# Table 4f: 300 queries.
_base_ = ['../mrovseg_vitb_coco640.py']
model = dict(neck=dict(num_queries=300), decode_head=dict(num_queries=300))
