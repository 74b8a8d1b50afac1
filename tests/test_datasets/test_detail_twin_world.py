"""The detail-twin world: hidden detail that only full resolution shows,
instance maps that agree with the labels, and random streams that keep
held-out scenes out of CLIP pretraining."""
import hashlib
import json

import numpy as np
import torch
from PIL import Image

from mrovseg_mmseg.datasets.detail_twin_world import (
    TWIN_CLASSES, TWIN_OF, DetailTwinWorldDataset, coarse_checker,
    generate_detail_twin_world, global_view, hidden_detail, name_for_view,
    render_twin_scene, twin_caption_pair, world_streams)
from mrovseg_mmseg.models.backbones.slicing import \
    global_view as model_global_view


def _disc(size, centre, radius):
    yy, xx = np.mgrid[0:size, 0:size]
    return (yy - centre[0])**2 + (xx - centre[1])**2 <= radius**2


def test_world_global_view_is_the_models():
    image = np.random.default_rng(0).uniform(0, 255, (64, 64, 3))
    # (H, W, 3) -> (1, 3, H, W)
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None]
    view, _ = model_global_view(tensor, 32)
    # (1, 3, h, w) -> (h, w, 3)
    np.testing.assert_allclose(
        view[0].permute(1, 2, 0).numpy(), global_view(image), atol=1e-9)


def test_fine_detail_vanishes_from_the_global_view_only():
    for centre, radius in (((20, 30), 3.2), ((41, 17), 5.5), ((3, 60), 4)):
        mask = _disc(64, centre, radius)
        plain = np.full((64, 64, 3), 90.0)
        plain[mask] = (175, 70, 70)
        detail = hidden_detail(mask, 45.0)
        checkered = plain + detail[..., None]
        assert np.all(detail[~mask] == 0)
        assert abs(np.sqrt(np.mean(detail[mask]**2)) - 45.0) < 1e-6
        np.testing.assert_allclose(
            global_view(checkered), global_view(plain), atol=1e-9)
        # full resolution: neighbours inside the object differ by ~90
        inside = mask[:, 1:] & mask[:, :-1]
        steps = np.abs(np.diff(checkered[..., 0], axis=1))[inside]
        assert steps.mean() > 60
    # a plain period-2 checkerboard cut to a disc leaks into the global view
    mask = _disc(64, (20, 30), 4)
    yy, xx = np.mgrid[0:64, 0:64]
    raw = np.where(mask, np.where((yy + xx) % 2 == 0, 45.0, -45.0), 0)
    assert np.abs(global_view(raw[..., None])).max() > 1


def test_coarse_detail_survives_the_global_view():
    pattern = coarse_checker((64, 64), 45.0, (0, 0))[..., None]
    assert global_view(pattern).std() > 20


def test_scene_instances_agree_with_labels_and_kinds():
    rng = np.random.default_rng(world_streams(7)['val'])
    kinds = set()
    for _ in range(30):
        image, label, extra = render_twin_scene(rng)
        instances, objects = extra['instances'], extra['objects']
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
        assert set(np.unique(instances)) == {obj['id'] for obj in objects}
        names = [obj['name'] for obj in objects]
        assert len(set(names)) == len(names)
        for obj in objects:
            pixels = instances == obj['id']
            assert pixels.sum() == obj['area'] >= 6
            assert set(np.unique(label[pixels])) == {obj['class_id']}
            assert TWIN_CLASSES[obj['class_id']] == obj['name']
            kinds.add(obj['kind'])
            if obj['kind'] != 'large' and 'checkered' in obj['name']:
                # clipped detail would show in the global view
                assert 0 < image[pixels].min() and image[pixels].max() < 255
        small = [o for o in objects if o['kind'] == 'small']
        assert small and all(o['area'] < 16 * 16 for o in small)
    assert kinds == {'large', 'small', 'thin'}


def test_dataset_on_disk(tmp_path):
    root = tmp_path / 'world'
    generate_detail_twin_world(str(root), num_train=4, num_val=3, seed=5)
    rng = np.random.default_rng(world_streams(5)['val'])
    for index in range(3):
        image, label, extra = render_twin_scene(rng)
        name = f'{index:05d}'
        np.testing.assert_array_equal(
            np.asarray(Image.open(root / f'images/val/{name}.png')), image)
        np.testing.assert_array_equal(
            np.asarray(Image.open(root / f'annotations/val/{name}.png')),
            label)
        np.testing.assert_array_equal(
            np.asarray(Image.open(root / f'instances/val/{name}.png')),
            extra['instances'])
        objects = json.loads((root / f'objects/val/{name}.json').read_text())
        assert objects == extra['objects']
    train = np.asarray(Image.open(root / 'images/train/00000.png'))
    val = np.asarray(Image.open(root / 'images/val/00000.png'))
    assert not np.array_equal(train, val)
    dataset = DetailTwinWorldDataset(
        data_root=str(root),
        data_prefix=dict(img_path='images/val', seg_map_path='annotations/val'),
        pipeline=[])
    assert len(dataset) == 3
    assert dataset.metainfo['classes'] == TWIN_CLASSES


def _view_hashes(scenes):
    """Digests of every view MROVSeg's pretraining could cut from
    ``scenes``: the whole scene's global view and every 32 px crop."""
    digests = set()
    for image in scenes:
        whole = np.clip(np.round(global_view(image)), 0, 255).astype(np.uint8)
        digests.add(hashlib.sha1(whole.tobytes()).hexdigest())
        for top in range(33):
            for left in range(33):
                crop = np.ascontiguousarray(image[top:top + 32,
                                                  left:left + 32])
                digests.add(hashlib.sha1(crop.tobytes()).hexdigest())
    return digests


def _pretraining_views(stream, count):
    rng = np.random.default_rng(stream)
    return [twin_caption_pair(rng, 32)[0] for _ in range(count)]


def test_no_held_out_scene_among_pretraining_views():
    streams = world_streams(2026)
    val_rng = np.random.default_rng(streams['val'])
    held_out = _view_hashes(
        [render_twin_scene(val_rng)[0] for _ in range(40)])

    def shared(views):
        return sum(
            hashlib.sha1(np.ascontiguousarray(v).tobytes()).hexdigest() in
            held_out for v in views)

    assert shared(_pretraining_views(streams['pretrain'], 400)) == 0
    # the check finds a view of a held-out scene when there is one
    assert shared(_pretraining_views(streams['val'], 1)) == 1


def test_captions_name_what_each_view_shows():
    assert name_for_view('checkered red', 'small', whole_scene=True) == (
        'plain red')
    assert name_for_view('checkered red', 'thin', whole_scene=False) == (
        'checkered red')
    assert name_for_view('checkered red', 'large', whole_scene=True) == (
        'checkered red')
    assert name_for_view('orange', 'small', whole_scene=True) == 'orange'
    assert all(TWIN_OF[TWIN_OF[name]] == name for name in TWIN_CLASSES)


def test_overlays_tell_twins_apart():
    from mrovseg_mmseg.datasets.detail_twin_world import TWIN_PALETTE
    colours = [tuple(colour) for colour in TWIN_PALETTE]
    assert len(set(colours)) == len(TWIN_CLASSES)
