# The same model on a randomly initialized CLIP: the control that shows where
# the unseen classes' names come from.
_base_ = ['./mrovseg_tiny_materials64.py']
model = dict(
    backbone=dict(pretrained=None), text_encoder=dict(pretrained=None))
