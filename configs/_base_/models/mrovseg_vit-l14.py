# MROVSeg with a frozen OpenAI CLIP ViT-L/14. Views are fed to CLIP at
# 336x336 (24x24 tokens of 14 px; the 320 px slices are enlarged by 5%, so
# that slices and global view share one CLIP batch),
# fusion layers {stem, 6, 12, 18} and the classifier from block 18 (paper
# Sec. 3.4 and 4.1).
# Weights: the 'openai' tag inherited from the ViT-B/16 base; for a local file
# set model.backbone.pretrained and model.text_encoder.pretrained to OpenAI's
# ViT-L-14.pt or a state dict saved from it (built with QuickGELU), or, for
# OpenAI's weights saved by open_clip, also model_name='ViT-L-14-quickgelu'.
_base_ = ['./mrovseg_vit-b16.py']
clip_model = 'ViT-L-14'
model = dict(
    backbone=dict(
        model_name=clip_model,
        clip_input_size=336,
        slice_input_size=336,
        fusion_layers=(0, 6, 12, 18),
        classifier_start_block=18),
    text_encoder=dict(model_name=clip_model),
    neck=dict(in_channels=1024, fusion_layers=(0, 6, 12, 18)),
    decode_head=dict(
        clip_heads=16,
        clip_dims=1024,
        clip_proj_dims=768,
        decoder_layers=(18, 12, 6)))
