"""The web demo's page logic, by value and without a browser or gradio."""
import os
import re

import cv2
import numpy as np
import pytest
from PIL import Image

from mrovseg_mmseg.apis.inferencer import ClassFound
from mrovseg_mmseg.datasets import ADE847Dataset
from mrovseg_mmseg.datasets.material_world import (MATERIAL_CLASSES,
                                                   UNSEEN_CLASSES,
                                                   generate_material_world)
from mrovseg_mmseg.datasets.synthetic_shapes import SHAPE_CLASSES
from mrovseg_mmseg.webui import page
from mrovseg_mmseg.webui.page import PageInputError


def test_class_text_is_one_class_per_line_with_synonyms():
    text = ('sky\n\n  sofa, couch  # furniture\n# a comment line\n'
            'red disc\r\n')
    assert page.parse_class_text(text) == ['sky', 'sofa, couch', 'red disc']
    assert page.parse_class_text(page.class_text(
        ['a', 'b, c'])) == ['a', 'b, c']


@pytest.mark.parametrize(
    'text,message',
    [('', 'no class name'), ('  \n# only a comment\n', 'no class name'),
     (None, 'no class name'),
     ('sky\ntree\nSky', r"line 3 \('Sky'\) duplicates line 1 \('sky'\)"),
     ('sky\n\nsofa,, couch', r"line 3 \('sofa,, couch'\) has an empty "
      'synonym')])
def test_bad_class_text_is_named_by_line(text, message):
    with pytest.raises(PageInputError, match='class names: ' + message):
        page.parse_class_text(text)


def test_presets_are_the_benchmarks_vocabularies():
    assert page.PRESETS['synthetic shapes (6, the shapes demo)'] == \
        SHAPE_CLASSES
    assert page.PRESETS['material world (12, the zero-shot demo)'] == \
        MATERIAL_CLASSES
    assert page.PRESETS['ADE20K-full (847)'] == ADE847Dataset.METAINFO[
        'classes']
    for name, classes in page.PRESETS.items():
        text = page.class_text(classes)
        assert page.parse_class_text(text) == list(classes), name
    assert [len(v) for v in page.PRESETS.values()] == [
        6, 12, 171, 150, 847, 59, 459, 20, 19
    ]


def test_uploads_are_read_or_refused_with_their_own_name(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / 'upload.png')
    read = page.read_image(
        str(tmp_path / 'upload.png'), 'photo.png', max_pixels=1200)
    assert np.array_equal(read, rgb)

    with pytest.raises(PageInputError, match='no image: upload'):
        page.read_image(None, 'image', max_pixels=100)
    (tmp_path / 'tmp123.png').write_bytes(b'\x89PNG not really')
    with pytest.raises(PageInputError) as err:
        page.read_image(
            str(tmp_path / 'tmp123.png'), 'holiday.png', max_pixels=100)
    assert "cannot decode 'holiday.png'" in str(err.value)
    assert 'tmp123' not in str(err.value)
    with pytest.raises(
            PageInputError,
            match=r"'big.png' is 40x30 pixels \(0.0 MP\); this page takes "
            r'images of up to 0.001199 MP'):
        page.read_image(
            str(tmp_path / 'upload.png'), 'big.png', max_pixels=1199)


def test_decompression_bombs_are_refused_by_name(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / 'a.png')
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 500)  # PIL refuses 2x
    with pytest.raises(
            PageInputError,
            match=r"'bomb.png' is too large \(Image size \(1200 pixels\) "
            r'exceeds limit of 1000 pixels.*\); this page takes images of '
            r'up to 50 MP'):
        page.read_image(
            str(tmp_path / 'a.png'), 'bomb.png', max_pixels=50_000_000)


def test_large_results_are_shrunk_for_display_only():
    image = np.zeros((300, 1000, 3), np.uint8)
    image[:, 500:] = 200
    labels = np.zeros((300, 1000), np.uint8)
    labels[:, 500:] = 9 * ((np.arange(500) // 3) % 2)  # 3-pixel stripes
    small, small_labels, shrunk = page.fit_for_display(
        image, labels, max_side=250)
    assert shrunk
    assert small.shape == (75, 250, 3) and small_labels.shape == (75, 250)
    assert small_labels.dtype == np.uint8
    assert set(np.unique(small_labels)) == {0, 9}  # nearest: no new ids
    assert (small_labels[:, :125] == 0).all() and (small[:, 130:] == 200).all()
    same, same_labels, shrunk = page.fit_for_display(
        image, labels, max_side=1000)
    assert not shrunk and same is image and same_labels is labels


def test_label_colours_and_overlay_views():
    palette = [[255, 0, 0], [0, 255, 0], [0, 0, 255]]
    labels = np.array([[0, 2], [2, 1]], np.uint8)
    colours = page.colour_labels(labels, palette)
    assert colours.tolist() == [[[255, 0, 0], [0, 0, 255]],
                                [[0, 0, 255], [0, 255, 0]]]
    image = np.array([[[100, 100, 100], [0, 0, 0]],
                      [[255, 255, 255], [10, 20, 31]]], np.uint8)
    overlay, coloured = page.draw_views(image, labels, palette)
    assert np.array_equal(coloured, colours)
    assert overlay.dtype == np.uint8
    assert overlay.tolist() == [[[178, 50, 50], [0, 0, 128]],
                                [[128, 128, 255], [5, 138, 16]]]
    half = page.draw_views(image, labels, palette, alpha=0.25)[0]
    assert half[0, 0].tolist() == [139, 75, 75]


def test_legend_lists_each_class_found_with_area_and_score():
    palette = [[10, 20, 30], [200, 0, 5], [1, 2, 3]]
    found = [
        ClassFound(2, 'sofa, couch', 0.6123, 0.871),
        ClassFound(0, '<b>sky</b> & sun', 0.3876, 0.5),
        ClassFound(1, 'tree', 0.0001, 0.25)
    ]
    legend = page.legend_html(found, palette)
    rows = re.findall(
        r'<tr data-class-id="(\d+)"><td><span class="swatch" '
        r'style="background: rgb\(([\d, ]+)\)"></span></td>'
        r'<td class="name">(.*?)</td><td class="id">(\d+)</td>'
        r'<td class="area">(.*?)</td><td class="score">(.*?)</td></tr>',
        legend)
    assert rows == [
        ('2', '1, 2, 3', 'sofa, couch', '2', '61.2%', '0.87'),
        ('0', '10, 20, 30', '&lt;b&gt;sky&lt;/b&gt; &amp; sun', '0', '38.8%',
         '0.50'),
        ('1', '200, 0, 5', 'tree', '1', '&lt;0.1%', '0.25'),
    ]
    assert '<tbody></tbody>' in page.legend_html([], palette)


def test_legend_says_which_classes_training_saw():
    palette = [[10, 20, 30], [200, 0, 5]]
    found = [ClassFound(1, 'water', 0.7, 0.9), ClassFound(0, 'sand', 0.3, 0.5)]
    legend = page.legend_html(found, palette, unseen=('water', ))
    assert '<th>score</th><th>in training</th></tr>' in legend
    rows = re.findall(
        r'<td class="name">(\w+)</td>.*?<td class="training (\w+)">(.*?)</td>',
        legend)
    assert rows == [('water', 'unseen', 'no'), ('sand', 'seen', 'yes')]
    warned = page.legend_html(found, palette, unseen=('water', ), chance=True)
    assert '<td class="training unseen">no (chance)</td>' in warned
    assert 'in training' not in page.legend_html(found, palette)


@pytest.mark.parametrize('area,text', [(1.0, '100.0%'), (0.4132, '41.3%'),
                                       (0.0005, '0.1%'), (0.0004, '<0.1%'),
                                       (0.0, '<0.1%')])
def test_area_format(area, text):
    assert page.format_area(area) == text


def test_status_line_and_summary():
    ok = page.status_html('3 <classes>')
    assert ok == '<div class="mrovseg-status ok">3 &lt;classes&gt;</div>'
    bad = page.status_html("class names: line 2 ('x') ...", error=True)
    assert bad.startswith('<div class="mrovseg-status error"><b>Cannot '
                          'segment:</b> class names: line 2 (&#x27;x&#x27;)')
    text = page.summary_text(
        name='a.png',
        size=(6000, 8000),
        num_found=3,
        num_classes=6,
        seconds=2.345,
        shown=(768, 1024))
    assert text == ("3 of 6 classes found in 'a.png' (8000x6000 pixels) in "
                    '2.3 s. The image was downsized for display to 1024x768;'
                    ' the label map PNG has the full 8000x6000.')
    assert 'downsized' not in page.summary_text(
        name='a.png',
        size=(60, 80),
        num_found=1,
        num_classes=6,
        seconds=0.1,
        shown=None)


@pytest.mark.parametrize('dtype,top', [(np.uint8, 254), (np.uint16, 1000)])
def test_label_png_keeps_every_id(tmp_path, dtype, top):
    labels = np.arange(37 * 23).reshape(37, 23) % (top + 1)
    labels = labels.astype(dtype)
    path = str(tmp_path / 'sub' / 'labels.png')
    page.write_label_png(labels, path)
    read = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert read.dtype == dtype and np.array_equal(read, labels)
    with Image.open(path) as image:
        assert image.format == 'PNG'
    with pytest.raises(ValueError, match='float32'):
        page.write_label_png(labels.astype(np.float32), path)


def test_safe_stem():
    assert page.safe_stem('My photo (1).JPG') == 'My_photo_1'
    assert page.safe_stem('../../etc/passwd') == 'passwd'
    assert page.safe_stem('...') == 'image'


def test_examples_are_enlarged_synthetic_shapes(tmp_path):
    paths = page.write_examples(str(tmp_path), count=2)
    assert [p.rsplit('/', 1)[1] for p in paths] == [
        'shapes_1.png', 'shapes_2.png'
    ]
    first = np.asarray(Image.open(paths[0]))
    assert first.shape == (256, 256, 3)
    assert np.array_equal(first[::4, ::4], first[3::4, 3::4])  # 4x4 blocks
    again = page.write_examples(str(tmp_path / 'again'), count=1)
    assert np.array_equal(np.asarray(Image.open(again[0])), first)


def test_held_out_examples_show_unseen_names_first(tmp_path):
    root = generate_material_world(
        str(tmp_path / 'world'), num_train=1, num_val=12)
    images = str(tmp_path / 'world' / 'images' / 'val')
    labels = str(tmp_path / 'world' / 'annotations' / 'val')
    unseen_ids = [MATERIAL_CLASSES.index(name) for name in UNSEEN_CLASSES]
    shares = [
        np.isin(np.asarray(Image.open(f'{labels}/{index:05d}.png')),
                unseen_ids).mean() for index in range(12)
    ]
    paths = page.write_held_out_examples(
        images, labels, MATERIAL_CLASSES, UNSEEN_CLASSES,
        str(tmp_path / 'examples'), count=4, min_share=0.6)
    stems = [os.path.basename(path) for path in paths]
    showing = [f'held_out_{i:05d}.png' for i in range(12) if shares[i] >= 0.6]
    others = [f'held_out_{i:05d}.png' for i in range(12) if shares[i] < 0.6]
    assert 0 < len(showing) < 4  # both kinds are in this world's first 12
    assert stems == (showing + others)[:4]
    first = np.asarray(Image.open(paths[0]))
    scene = np.asarray(Image.open(os.path.join(images, stems[0][9:])))
    assert first.shape == (256, 256, 3)
    assert np.array_equal(first[::4, ::4], scene)
    assert np.array_equal(first[3::4, 3::4], scene)
    assert root == str(tmp_path / 'world')
