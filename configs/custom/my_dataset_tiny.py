# Your own dataset (docs/custom_dataset.md) on the tiny random-CLIP model at
# 64 px: the same dataset lines as my_dataset_vitb.py, to try the guide on a
# CPU in minutes (a random CLIP knows no words: real use needs the ViT-B).
_base_ = '../mrovseg_tiny_shapes64.py'
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
