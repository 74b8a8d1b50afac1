# Zero-shot evaluation of mrovseg_vitl_coco640 on pc59: only the test data
# changes (the vocabulary follows it, read from the dataset's classes).
#   python tools/test.py configs/mrovseg_vitl_coco640_eval_pc59.py CHECKPOINT
_base_ = ['./mrovseg_vitl_coco640.py', './_base_/zero_shot/pascal_context59.py']
val_dataloader = {{_base_.zero_shot_dataloader}}
test_dataloader = {{_base_.zero_shot_dataloader}}
val_evaluator = {{_base_.zero_shot_evaluator}}
test_evaluator = {{_base_.zero_shot_evaluator}}
model = dict(
    data_preprocessor=dict(seg_pad_val={{_base_.zero_shot_ignore_index}}),
    decode_head=dict(ignore_index={{_base_.zero_shot_ignore_index}}))
