"""The web demo's requests with a tiny random model, without a browser."""
import os
import re
import threading
import time

import cv2
import numpy as np
import pytest
from PIL import Image

from mrovseg_mmseg.apis import OVSegInferencer
from mrovseg_mmseg.apis import inferencer as inferencer_module
from mrovseg_mmseg.datasets.synthetic_shapes import SHAPE_CLASSES
from mrovseg_mmseg.models.text_encoders import OpenCLIPTextEncoder
from mrovseg_mmseg.webui.knowledge import ModelKnowledge
from mrovseg_mmseg.webui.page import PageInputError, class_text
from mrovseg_mmseg.webui.segmenter import PageSegmenter
from ..test_apis.fixed_scores import CLASSES as FIXED_CLASSES
from ..test_apis.fixed_scores import LABELS, fixed_score_rows

CONFIG = os.path.join(
    os.path.dirname(__file__), '..', '..', 'configs',
    'mrovseg_tiny_shapes64.py')
SHAPES = class_text(SHAPE_CLASSES)


@pytest.fixture(scope='module')
def inferencer():
    return OVSegInferencer(CONFIG, device='cpu', vocabulary=SHAPE_CLASSES)


@pytest.fixture
def segmenter(inferencer):
    inferencer.set_vocabulary(SHAPE_CLASSES)
    segmenter = PageSegmenter(inferencer, display_max_side=128)
    yield segmenter
    segmenter.close()
    assert not os.path.exists(segmenter.out_dir)


def write_image(path, height, width, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3),
                                 dtype=np.uint8)).save(path)
    return str(path)


def legend_names(legend):
    return [
        part.split('</td>', 1)[0]
        for part in legend.split('<td class="name">')[1:]
    ]


def test_result_shows_the_classes_of_the_label_map(segmenter, tmp_path):
    path = write_image(tmp_path / 'upload.png', 90, 120)
    steps = []
    result = segmenter.segment(
        path,
        SHAPES,
        image_name='My photo.png',
        progress=lambda done, what: steps.append((done, what)))
    labels = cv2.imread(result.label_png, cv2.IMREAD_UNCHANGED)
    assert os.path.basename(result.label_png) == 'My_photo_labels.png'
    assert labels.shape == (90, 120) and labels.dtype == np.uint8
    ids = np.unique(labels).tolist()
    assert sorted(legend_names(result.legend)) == sorted(
        SHAPE_CLASSES[i] for i in ids)
    assert [item.index for item in result.found] == sorted(
        ids, key=lambda i: -(labels == i).sum())
    for item in result.found:
        assert item.area == pytest.approx((labels == item.index).mean())
    assert result.label_colours.shape == (90, 120, 3)
    assert result.overlay.shape == (90, 120, 3)
    assert (f'{len(ids)} of 6 classes found in &#x27;My photo.png&#x27; '
            '(120x90 pixels)') in result.status
    assert 'downsized' not in result.status
    assert [what for _, what in steps] == [
        'reading the image', 'segmenting', 'drawing the result'
    ]
    assert [done for done, _ in steps] == sorted(done for done, _ in steps)


def test_large_image_is_downsized_for_display_and_says_so(
        segmenter, tmp_path):
    path = write_image(tmp_path / 'wide.png', 100, 400)
    result = segmenter.segment(path, SHAPES, image_name='wide.png')
    assert result.label_colours.shape == (32, 128, 3)
    assert cv2.imread(result.label_png,
                      cv2.IMREAD_UNCHANGED).shape == (100, 400)
    assert ('downsized for display to 128x32; the label map PNG has the '
            'full 400x100') in result.status


def test_more_than_255_classes_give_a_16_bit_png(segmenter, tmp_path):
    path = write_image(tmp_path / 'a.png', 20, 30)
    words = class_text(f'thing {i}' for i in range(300))
    result = segmenter.segment(path, words)
    labels = cv2.imread(result.label_png, cv2.IMREAD_UNCHANGED)
    assert labels.dtype == np.uint16 and labels.shape == (20, 30)
    assert legend_names(result.legend) == [
        f'thing {i}' for i in np.unique(labels)
    ]


def test_text_embeddings_are_cached_across_requests(segmenter, tmp_path,
                                                    monkeypatch):
    calls = []
    encode = OpenCLIPTextEncoder._encode_vocabulary

    def counting(self, classes):
        calls.append(classes)
        return encode(self, classes)

    monkeypatch.setattr(OpenCLIPTextEncoder, '_encode_vocabulary', counting)
    path = write_image(tmp_path / 'a.png', 40, 40)
    words = 'lighthouse\nharbour, port\nsea'
    first = segmenter.segment(path, words)
    again = segmenter.segment(path, words + '\n# same classes')
    assert len(calls) == 1
    assert np.array_equal(
        cv2.imread(first.label_png, cv2.IMREAD_UNCHANGED),
        cv2.imread(again.label_png, cv2.IMREAD_UNCHANGED))
    segmenter.segment(path, 'cat')
    segmenter.segment(path, words)
    assert len(calls) == 2  # 'cat' once; the first vocabulary from memory


def test_bad_input_gets_a_message_and_changes_nothing(segmenter, tmp_path):
    good = write_image(tmp_path / 'good.png', 20, 20)
    (tmp_path / 'upload_x1.png').write_bytes(b'GIF89a broken')
    cases = [
        (None, SHAPES, 'no image: upload one'),
        (str(tmp_path / 'upload_x1.png'), SHAPES,
         "cannot decode 'cat.gif'"),
        (good, ' \n\n', 'class names: no class name'),
        (good, 'sky\nSKY', r"class names: line 2 \('SKY'\) duplicates line "
         r"1 \('sky'\)"),
    ]
    for path, text, message in cases:
        with pytest.raises(PageInputError, match=message):
            segmenter.segment(path, text, image_name='cat.gif')
    too_many = class_text(f'c{i}' for i in range(65536))
    with pytest.raises(PageInputError,
                       match='class names: the vocabulary has 65536 classes'):
        segmenter.segment(good, too_many)
    assert segmenter.inferencer.classes == SHAPE_CLASSES
    small = PageSegmenter(segmenter.inferencer, max_pixels=399)
    with pytest.raises(PageInputError, match=r"'good.png' is 20x20 pixels"):
        small.segment(good, SHAPES, image_name='good.png')
    small.close()


def test_the_page_gets_results_or_a_message(segmenter, tmp_path,
                                            monkeypatch):
    path = write_image(tmp_path / 'tmp_upload.png', 20, 30)
    upload = dict(path=path, orig_name='photo.png')
    (overlay, colours, legend, png, proposals, table,
     status) = segmenter.respond(upload, SHAPES)
    assert overlay.shape == colours.shape == (20, 30, 3)
    assert legend.startswith('<table') and png.endswith('photo_labels.png')
    assert proposals.ndim == 3 and table.count('<tr data-proposal=') == 8
    assert 'classes found in &#x27;photo.png&#x27;' in status
    assert segmenter.respond(None, SHAPES) == (
        None, None, '', None, None, '',
        '<div class="mrovseg-status error"><b>Cannot segment:</b> no image: '
        'upload one, paste one or pick an example</div>')

    def broken(*args, **kwargs):
        raise RuntimeError('out of memory')

    monkeypatch.setattr(segmenter.inferencer, 'predict_image', broken)
    outputs = segmenter.respond(upload, SHAPES)
    assert outputs[:6] == (None, None, '', None, None, '')
    assert 'segmentation failed: RuntimeError: out of memory' in outputs[6]
    monkeypatch.undo()
    assert segmenter.respond(upload, SHAPES)[3] is not None  # still serving


def test_bad_settings_are_named(inferencer):
    with pytest.raises(ValueError, match='display_max_side=8 must be >= 16'):
        PageSegmenter(inferencer, display_max_side=8)
    with pytest.raises(ValueError, match='keep_results=0 must be >= 1'):
        PageSegmenter(inferencer, keep_results=0)


def test_concurrent_requests_take_turns(segmenter, tmp_path, monkeypatch):
    """Each request is answered with its own vocabulary."""
    inferencer = segmenter.inferencer
    predict = inferencer.predict_image

    def slow_predict(*args, **kwargs):
        time.sleep(0.05)  # widen the window between vocabulary and predict
        return predict(*args, **kwargs)

    monkeypatch.setattr(inferencer, 'predict_image', slow_predict)
    path = write_image(tmp_path / 'a.png', 24, 24)
    vocabularies = [['cat', 'dog'], ['sky', 'road', 'tree']]
    results, errors = {}, []

    def request(index):
        try:
            words = vocabularies[index % 2]
            result = segmenter.segment(path, class_text(words))
            results[index] = (words, result)
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=request, args=(i, )) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 6
    for words, result in results.values():
        names = legend_names(result.legend)
        assert names and set(names) <= set(words)
        labels = cv2.imread(result.label_png, cv2.IMREAD_UNCHANGED)
        assert sorted(names) == sorted(words[i] for i in np.unique(labels))


def test_only_recent_label_maps_are_kept_and_all_removed_at_close(
        inferencer, tmp_path):
    inferencer.set_vocabulary(SHAPE_CLASSES)
    segmenter = PageSegmenter(inferencer, keep_results=2)
    path = write_image(tmp_path / 'a.png', 16, 16)
    files = [segmenter.segment(path, SHAPES).label_png for _ in range(4)]
    assert [os.path.exists(f) for f in files] == [False, False, True, True]
    assert len(os.listdir(segmenter.out_dir)) == 2
    segmenter.close()
    assert not os.path.exists(segmenter.out_dir)


def test_legend_shows_each_class_with_its_area_and_mean_score(
        segmenter, tmp_path, monkeypatch):
    monkeypatch.setattr(inferencer_module, 'score_rows', fixed_score_rows)
    path = write_image(tmp_path / 'a.png', 2, 3)
    result = segmenter.segment(path, class_text(FIXED_CLASSES))
    rows = re.findall(
        r'<tr data-class-id="(\d+)">.*?<td class="name">(.*?)</td>'
        r'<td class="id">\d+</td><td class="area">(.*?)</td>'
        r'<td class="score">(.*?)</td></tr>', result.legend)
    # sky: 3 of 6 pixels at probabilities .75, .75 and 1 (fixed_scores)
    assert rows == [('0', 'sky', '50.0%', '0.83'),
                    ('2', 'sofa, couch', '33.3%', '0.50'),
                    ('1', 'tree', '16.7%', '0.75')]
    np.testing.assert_array_equal(
        cv2.imread(result.label_png, cv2.IMREAD_UNCHANGED), LABELS[(2, 3)])


def test_legend_and_note_say_which_names_training_never_saw(
        inferencer, tmp_path, monkeypatch):
    monkeypatch.setattr(inferencer_module, 'score_rows', fixed_score_rows)
    knowledge = ModelKnowledge(('tree', 'sky, clouds'), False, 'random')
    segmenter = PageSegmenter(inferencer, knowledge=knowledge)
    try:
        result = segmenter.segment(
            write_image(tmp_path / 'a.png', 2, 3), class_text(FIXED_CLASSES))
        rows = re.findall(
            r'<td class="name">(.*?)</td>.*?<td class="training \w+">(.*?)'
            r'</td></tr>', result.legend)
        assert rows == [('sky', 'yes'), ('sofa, couch', 'no (chance)'),
                        ('tree', 'yes')]
        note = segmenter.vocabulary_note('sky\nsofa, couch\n# a comment\n')
        assert note.startswith('<div class="mrovseg-vocabulary warning">not '
                               'seen in segmentation training: &#x27;sofa, '
                               'couch&#x27;. This model&#x27;s CLIP was never '
                               'pretrained')
        assert segmenter.vocabulary_note('sky\nSky') == ''  # a bad box
        assert segmenter.vocabulary_note('tree') == ''
    finally:
        segmenter.close()
    plain = PageSegmenter(inferencer)  # nothing known: no column, no note
    try:
        result = plain.segment(
            write_image(tmp_path / 'a.png', 2, 3), class_text(FIXED_CLASSES))
        assert 'training' not in result.legend
        assert plain.vocabulary_note('sofa') == ''
    finally:
        plain.close()
