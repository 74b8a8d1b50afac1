# Your own dataset (docs/custom_dataset.md) on the paper's model and recipe:
# CLIP ViT-B/16 from OpenAI, 640 px crops, 60k iterations of 8 GPUs x 4.
_base_ = '../mrovseg_vitb_coco640.py'
data_root = 'data/my_dataset'
my_dataset = dict(
    type='CustomOVSegDataset',
    data_root=data_root,
    metainfo=dict(classes=data_root + '/classes.txt'),
    img_suffix='.jpg',
    seg_map_suffix='.png')
train_dataloader = dict(
    dataset=dict(
        my_dataset,
        data_prefix=dict(img_path='images/train',
                         seg_map_path='labels/train')))
val_dataloader = dict(
    dataset=dict(
        my_dataset,
        data_prefix=dict(img_path='images/val', seg_map_path='labels/val')))
test_dataloader = val_dataloader
