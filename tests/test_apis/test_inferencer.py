"""OVSegInferencer: vocabulary, determinism, image kinds, bad input."""
import os

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from mrovseg_mmseg.apis import (BatchInferenceError, FailedInput,
                                ImageLoadError, OVSegInferencer,
                                collect_inputs, load_image)
from mrovseg_mmseg.apis import inferencer as inferencer_module
from mrovseg_mmseg.models.segmentors.mrovseg import resize_rows, score_rows
from mrovseg_mmseg.models.text_encoders import OpenCLIPTextEncoder

CONFIG = os.path.join(
    os.path.dirname(__file__), '..', '..', 'configs',
    'mrovseg_tiny_shapes64.py')
VOCABULARY = ['cat', 'dog', 'sky, heaven', 'tree', 'car']


def random_image(height, width, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture(scope='module')
def inferencer():
    return OVSegInferencer(CONFIG, device='cpu', vocabulary=VOCABULARY)


# ---------------------------------------------------------------- vocabulary
def test_vocabulary_change_relabels_without_rebuild(inferencer):
    image = random_image(96, 128)
    model = inferencer.model
    inferencer.set_vocabulary(VOCABULARY)
    first = inferencer(image, return_probs=True)[0]
    assert first.classes == tuple(VOCABULARY)
    assert first.label_map.shape == (96, 128)
    assert first.label_map.dtype == np.uint8
    assert set(np.unique(first.label_map)) <= set(range(5))
    assert {item.name for item in first.found} <= set(VOCABULARY)
    assert sum(first.areas.values()) == pytest.approx(1.0)
    for item in first.found:
        assert item.area == pytest.approx(
            (first.label_map == item.index).mean())

    # reordering the words permutes the ids of the same regions
    order = [2, 0, 4, 1, 3]
    inferencer.set_vocabulary([VOCABULARY[i] for i in order])
    permuted = inferencer(image)[0]
    new_id = np.argsort(order)  # old id -> new id
    assert (new_id[first.label_map] == permuted.label_map).mean() > 0.999
    assert permuted.areas == pytest.approx(first.areas, abs=1e-3)

    # fewer words: only their ids appear
    inferencer.set_vocabulary(['sofa, couch', 'tree'])
    two = inferencer(image)[0]
    assert two.classes == ('sofa, couch', 'tree')
    assert set(np.unique(two.label_map)) <= {0, 1}
    inferencer.set_vocabulary(['road'])
    one = inferencer(image)[0]
    assert not one.label_map.any()
    assert one.areas == {'road': 1.0}
    assert inferencer.model is model
    inferencer.set_vocabulary(VOCABULARY)


def test_same_image_and_vocabulary_give_the_same_result(inferencer):
    image = random_image(70, 50, seed=1)
    first = inferencer(image, return_probs=True)[0]
    second = inferencer(image, return_probs=True)[0]
    assert np.array_equal(first.label_map, second.label_map)
    assert np.array_equal(first.prob_maps, second.prob_maps)
    assert first.found == second.found
    rebuilt = OVSegInferencer(CONFIG, device='cpu', vocabulary=VOCABULARY)
    assert np.array_equal(rebuilt(image)[0].label_map, first.label_map)


def test_bad_vocabularies_are_named(inferencer):
    with pytest.raises(ValueError, match='empty'):
        inferencer.set_vocabulary([])
    with pytest.raises(
            ValueError,
            match=r"index 2 \('Sky'\) duplicates "
            r"class name at index 0"):
        inferencer.set_vocabulary(['sky', 'tree', 'Sky'])
    with pytest.raises(ValueError, match='index 1 is blank'):
        inferencer.set_vocabulary(['sky', ' '])
    with pytest.raises(ValueError, match='sequence of class names'):
        inferencer.set_vocabulary('sky')
    assert inferencer.classes == tuple(VOCABULARY)  # unchanged
    without = OVSegInferencer(CONFIG, device='cpu')
    with pytest.raises(RuntimeError, match='set_vocabulary'):
        without(random_image(8, 8))


def test_embeddings_are_cached_in_memory_and_on_disk(tmp_path, monkeypatch):
    calls = []
    encode = OpenCLIPTextEncoder._encode_vocabulary

    def counting(self, classes):
        calls.append(classes)
        return encode(self, classes)

    monkeypatch.setattr(OpenCLIPTextEncoder, '_encode_vocabulary', counting)
    words = ['lighthouse', 'harbour, port']
    first = OVSegInferencer(CONFIG, device='cpu', cache_dir=str(tmp_path))
    first.set_vocabulary(words)
    first.set_vocabulary(['cat'])
    first.set_vocabulary(words)
    first(random_image(16, 16))
    assert len(calls) == 2  # words and ['cat'], each once
    assert len(list(tmp_path.glob('*.pt'))) == 2

    second = OVSegInferencer(CONFIG, device='cpu', cache_dir=str(tmp_path))
    second.set_vocabulary(words)
    assert len(calls) == 2  # read from disk
    assert torch.equal(
        first.model.text_embeds('test'), second.model.text_embeds('test'))


# -------------------------------------------------------------------- images
def exif_rotated_jpeg(path):
    """A 20x40 (H x W) JPEG, left half red, with EXIF orientation 6."""
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = (255, 0, 0)
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    image.save(path, exif=exif, quality=95)


def test_image_kinds_are_read_as_upright_rgb(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(gray).save(tmp_path / 'gray.png')
    rgb = load_image(str(tmp_path / 'gray.png'))
    assert rgb.shape == (3, 4, 3) and rgb.dtype == np.uint8
    assert np.array_equal(rgb[..., 1], gray)

    rgba = np.zeros((5, 6, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 0
    Image.fromarray(rgba).save(tmp_path / 'rgba.png')
    assert np.array_equal(
        load_image(str(tmp_path / 'rgba.png'))[..., 0], np.full((5, 6), 200))

    deep = np.array([[0, 32896, 65535, 1028]], np.uint16)
    Image.fromarray(deep).save(tmp_path / 'gray16.png')
    assert load_image(str(tmp_path /
                          'gray16.png'))[0, :, 0].tolist() == [0, 128, 255, 4]
    colour = np.zeros((2, 2, 3), np.uint16)
    colour[0, 0] = 65535
    cv2.imwrite(str(tmp_path / 'rgb16.png'), colour)
    assert load_image(str(tmp_path /
                          'rgb16.png'))[0, 0].tolist() == [255, 255, 255]
    assert load_image(collect_inputs(deep)[0])[0, 2].tolist() == [255] * 3

    exif_rotated_jpeg(tmp_path / 'rotated.jpg')
    upright = load_image(str(tmp_path / 'rotated.jpg'))
    assert upright.shape == (40, 20, 3)
    assert upright[5, 10, 0] > 200 and upright[35, 10, 0] < 60  # red on top


def test_image_kinds_all_segment_at_their_size(inferencer, tmp_path):
    Image.fromarray(random_image(30, 40)[..., 0]).save(tmp_path / 'a.png')
    Image.fromarray(
        np.dstack([random_image(33, 21),
                   np.full((33, 21, 1), 128,
                           np.uint8)])).save(tmp_path / 'b.png')
    Image.fromarray((random_image(25, 35)[..., 0].astype(np.uint16) *
                     257)).save(tmp_path / 'c.png')
    exif_rotated_jpeg(tmp_path / 'd.jpg')
    results = inferencer(str(tmp_path))
    assert [os.path.basename(r.source)
            for r in results] == ['a.png', 'b.png', 'c.png', 'd.jpg']
    assert [r.label_map.shape for r in results] == [(30, 40), (33, 21),
                                                    (25, 35), (40, 20)]


def test_8000x6000_image_runs_in_bounded_pieces(monkeypatch):
    # 4 mask queries: the full-size scoring work grows with queries x pixels
    inferencer = OVSegInferencer(
        CONFIG,
        device='cpu',
        vocabulary=['sky', 'sea', 'sand'],
        views_per_pass=2,
        pixels_per_chunk=2**22,
        cfg_options={
            'model.neck.num_queries': 4,
            'model.decode_head.num_queries': 4
        })
    views, bands = [], []
    run_views = inferencer.model.backbone._run_views

    def spy_views(batch):
        views.append(batch.shape[0])
        return run_views(batch)

    def spy_bands(*args):
        for start, scores in score_rows(*args):
            bands.append(scores.shape)
            yield start, scores

    monkeypatch.setattr(inferencer.model.backbone, '_run_views', spy_views)
    monkeypatch.setattr(inferencer_module, 'score_rows', spy_bands)
    image = np.zeros((6000, 8000, 3), np.uint8)
    image[:3000, :, 2] = 230
    image[:, 4000:, 1] = 180
    result = inferencer(image)[0]
    assert result.label_map.shape == (6000, 8000)
    assert result.label_map.dtype == np.uint8
    assert sum(result.areas.values()) == pytest.approx(1.0)
    assert sum(views) == 5 and max(views) <= 2  # global + 2x2 slices
    assert max(rows * width for rows, width, _ in bands) <= 2**22
    assert sum(rows for rows, _, _ in bands) == 6000


# ----------------------------------------------------------------- bad input
def test_bad_items_are_named_and_the_rest_processed(inferencer, tmp_path,
                                                    monkeypatch):
    good = tmp_path / 'good.png'
    Image.fromarray(random_image(20, 30)).save(good)
    (tmp_path / 'corrupt.png').write_bytes(b'not a png at all')
    buffer = (tmp_path / 'cut.jpg')
    Image.fromarray(random_image(64, 64)).save(buffer)
    data = buffer.read_bytes()
    buffer.write_bytes(data[:len(data) // 2])
    empty = tmp_path / 'empty'
    empty.mkdir()
    locked = tmp_path / 'locked'
    locked.mkdir()
    scandir = os.scandir

    def refuse(path='.'):  # chmod does not stop root, so refuse here
        if os.fspath(path) == str(locked):
            raise PermissionError(13, 'Permission denied', str(locked))
        return scandir(path)

    monkeypatch.setattr(os, 'scandir', refuse)
    inputs = [
        str(good),
        str(tmp_path / 'missing.png'),
        str(tmp_path / 'corrupt.png'),
        str(buffer),
        str(empty),
        str(locked),
        str(tmp_path / '*.gif'),
        np.zeros((4, 4, 2)), 17,
        random_image(10, 12)
    ]
    with pytest.raises(BatchInferenceError) as info:
        inferencer(inputs)
    error = info.value
    assert [r.source for r in error.results] == [str(good), '<array 9>']
    messages = {item.source: item.error for item in error.failed}
    assert list(messages) == [
        str(tmp_path / 'missing.png'),
        str(tmp_path / 'corrupt.png'),
        str(buffer),
        str(empty),
        str(locked),
        str(tmp_path / '*.gif'), '<array 7>', '<input 8>'
    ]
    assert 'does not exist' in messages[str(tmp_path / 'missing.png')]
    assert 'cannot decode' in messages[str(tmp_path / 'corrupt.png')]
    assert 'truncated' in messages[str(buffer)]
    assert 'holds no image' in messages[str(empty)]
    assert 'Permission denied' in messages[str(locked)]
    assert 'no file matches' in messages[str(tmp_path / '*.gif')]
    assert 'shape (4, 4, 2)' in messages['<array 7>']
    assert 'int' in messages['<input 8>']
    for source, message in messages.items():
        if not source.startswith('<'):
            assert repr(source) in message or source in message
    assert '8 of 10 inputs failed' in str(error)
    with pytest.raises(ImageLoadError, match='missing.png'):
        load_image(str(tmp_path / 'missing.png'))
    streamed = list(inferencer.iter_results(inputs[:3]))
    assert isinstance(streamed[1], FailedInput)
    assert streamed[0].label_map.shape == (20, 30)


# ------------------------------------------------------ weights and options
def save_checkpoint(path, state, classes=None):
    meta = {} if classes is None else dict(dataset_meta=dict(classes=classes))
    torch.save(dict(state_dict=state, meta=meta), path)


class NotAWeight:
    pass


def test_checkpoint_is_loaded_safely_and_mismatches_reported(tmp_path):
    source = OVSegInferencer(CONFIG, device='cpu')
    state = {k: v.clone() for k, v in source.model.state_dict().items()}
    key = next(k for k in state if k.startswith('decode_head.'))
    state[key] += 1
    save_checkpoint(tmp_path / 'full.pth', state, classes=('cat', 'dog'))
    loaded = OVSegInferencer(CONFIG, str(tmp_path / 'full.pth'), device='cpu')
    assert loaded.classes == ('cat', 'dog')
    assert torch.equal(loaded.model.state_dict()[key], state[key])
    assert loaded.checkpoint_report.missing_keys == ()

    partial = {k: v for k, v in state.items() if k != key}
    partial['decode_head.extra'] = torch.zeros(1)
    partial = {
        k: v
        for k, v in partial.items() if not k.startswith('backbone.')
    }  # CLIP from the config
    save_checkpoint(tmp_path / 'partial.pth', partial)
    with pytest.warns(
            UserWarning,
            match=rf"1 missing keys.*{key}.*1 "
            r"unexpected keys.*decode_head\.extra"):
        OVSegInferencer(
            CONFIG,
            str(tmp_path / 'partial.pth'),
            device='cpu',
            vocabulary=['cat'])

    torch.save(
        dict(state_dict=state, meta=NotAWeight()), tmp_path / 'pickled.pth')
    with pytest.raises(
            ValueError, match=r"pickled\.pth.*weights_only=True"
            r".*NotAWeight"):
        OVSegInferencer(CONFIG, str(tmp_path / 'pickled.pth'), device='cpu')
    bad_shape = dict(state)
    bad_shape[key] = torch.zeros(3, 3, 3)
    save_checkpoint(tmp_path / 'shape.pth', bad_shape)
    with pytest.raises(ValueError, match=r"shape\.pth' does not fit"):
        OVSegInferencer(CONFIG, str(tmp_path / 'shape.pth'), device='cpu')
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        OVSegInferencer(CONFIG, str(tmp_path / 'nowhere.pth'), device='cpu')


# bfloat16 keeps 8 mantissa bits (relative step 0.4%): over the tiny model
# the class probabilities move by a few hundredths and pixels near a tie
# between two classes may change label
BF16_SCORE_TOLERANCE = 0.03
BF16_AREA_TOLERANCE = 0.05


def test_precision_scale_and_probability_options(inferencer, monkeypatch):
    image = random_image(40, 120)
    with pytest.raises(ValueError, match="precision='fp16' needs a GPU"):
        OVSegInferencer(CONFIG, device='cpu', precision='fp16')
    with pytest.raises(ValueError, match="precision='fp8'"):
        OVSegInferencer(CONFIG, device='cpu', precision='fp8')
    bf16 = OVSegInferencer(
        CONFIG, device='cpu', precision='bf16', vocabulary=VOCABULARY)
    bf16.model.load_state_dict(inferencer.model.state_dict())
    dtypes = []
    bf16.model.neck.input_proj.register_forward_hook(
        lambda module, args, out: dtypes.append(out.dtype))
    full, reduced = inferencer(image)[0], bf16(image)[0]
    assert dtypes == [torch.bfloat16]
    assert (full.label_map == reduced.label_map).mean() > 0.9
    reduced_found = {item.index: item for item in reduced.found}
    for item in full.found:
        if item.area > 0.05:
            other = reduced_found[item.index]
            assert abs(other.area - item.area) <= BF16_AREA_TOLERANCE
            assert abs(other.score - item.score) <= BF16_SCORE_TOLERANCE

    sizes = []
    larger = OVSegInferencer(
        CONFIG, device='cpu', vocabulary=VOCABULARY, scale=(256, 256))
    for model in (inferencer.model, larger.model):
        extract = model.extract_feat
        monkeypatch.setattr(
            model,
            'extract_feat',
            lambda x, extract=extract: sizes.append(x.shape[-2:]) or extract(x)
        )
    inferencer(image)
    larger(image)
    assert [tuple(size) for size in sizes] == [(21, 64), (85, 256)]

    result = inferencer(image, return_probs=True)[0]
    probs = result.prob_maps
    assert probs.shape == (5, 40, 120) and probs.dtype == np.uint8
    assert np.abs(probs.astype(int).sum(0) - 255).max() <= 3
    assert (probs.argmax(0) == result.label_map).mean() > 0.99


def test_inferencer_matches_the_segmentor_predict(inferencer):
    image = random_image(50, 90, seed=3)
    result = inferencer(image)[0]
    packed = inferencer.pipeline(
        dict(
            img=np.ascontiguousarray(image[..., ::-1]),
            img_shape=(50, 90),
            ori_shape=(50, 90)))
    model = inferencer.model
    with torch.no_grad():
        data = model.data_preprocessor(
            dict(
                inputs=[packed['inputs']],
                data_samples=[packed['data_samples']]), False)
        predicted = model(**data, mode='predict')[0].pred_sem_seg.data[0]
    assert np.array_equal(predicted.numpy(), result.label_map)


@pytest.mark.parametrize('in_size,out_size', [((12, 16), (100, 37)),
                                              ((50, 60), (13, 200)),
                                              ((9, 9), (9, 9))])
@pytest.mark.parametrize('resize_pixels', [1, 3 * 7 * 200, 2**18])
def test_banded_scores_equal_full_resolution_scores(in_size, out_size,
                                                    resize_pixels):
    generator = torch.Generator().manual_seed(0)
    masks = torch.randn(1, 6, *in_size, generator=generator)
    cls_logits = torch.randn(1, 6, 4, generator=generator)
    full = F.interpolate(
        masks, size=out_size, mode='bilinear', align_corners=False)
    expected = torch.einsum('nk,nhw->khw',
                            F.softmax(cls_logits, -1)[0, :, :-1],
                            full[0].sigmoid())
    bands = list(score_rows(cls_logits, masks, out_size, 7, resize_pixels))
    assert [start for start, _ in bands] == list(range(0, out_size[0], 7))
    scores = torch.cat([band for _, band in bands], dim=0)  # (H, W, K)
    torch.testing.assert_close(scores.permute(2, 0, 1), expected, atol=1e-5,
                               rtol=1e-5)
    torch.testing.assert_close(
        resize_rows(masks[0], out_size, 3, 5),
        full[0, :, 3:5],
        atol=1e-5,
        rtol=1e-5)
