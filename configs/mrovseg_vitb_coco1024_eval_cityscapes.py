# Cityscapes at full resolution (2048x1024) with the 1024-trained model
# (paper Sec. 4.2): the slice grid follows the image, 2 x 4 slices at p = 0.5.
_base_ = ['./mrovseg_vitb_coco1024.py', './_base_/zero_shot/cityscapes19.py']
val_dataloader = {{_base_.zero_shot_dataloader}}
test_dataloader = {{_base_.zero_shot_dataloader}}
val_evaluator = {{_base_.zero_shot_evaluator}}
test_evaluator = {{_base_.zero_shot_evaluator}}
