"""tools/infer.py: outputs, vocabulary options, failures and exit status."""
import importlib.util
import json
import os
import re

import cv2
import numpy as np
import pytest
from PIL import Image

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
CONFIG = os.path.join(ROOT, 'configs', 'mrovseg_tiny_shapes64.py')


@pytest.fixture(scope='module')
def infer_tool():
    spec = importlib.util.spec_from_file_location(
        'infer_tool', os.path.join(ROOT, 'tools', 'infer.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_image(path, height, width, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3),
                                 dtype=np.uint8)).save(path)


def test_batch_writes_good_items_and_names_bad_ones(infer_tool, tmp_path,
                                                    capsys):
    photos = tmp_path / 'photos'
    photos.mkdir()
    write_image(photos / 'a.png', 30, 40)
    write_image(photos / 'b.jpg', 25, 20, seed=1)
    (photos / 'broken.png').write_bytes(b'\x89PNG garbage')
    out = tmp_path / 'out'
    status = infer_tool.main([
        str(photos),
        str(tmp_path / 'missing.jpg'),
        str(photos / '*.jpg'), '--config', CONFIG, '--classes', 'sky', 'tree',
        'sofa, couch', '--out-dir',
        str(out), '--device', 'cpu', '--save-probs'
    ])
    captured = capsys.readouterr()
    assert status == 1
    assert 'broken.png' in captured.err and 'cannot decode' in captured.err
    assert 'missing.jpg' in captured.err and 'does not exist' in captured.err
    assert '2 of 4 inputs written' in captured.out  # b.jpg counted once
    assert 'images' in captured.out and 'area' in captured.out
    labels = cv2.imread(str(out / 'labels' / 'a.png'), cv2.IMREAD_UNCHANGED)
    assert labels.shape == (30, 40) and labels.dtype == np.uint8
    assert labels.max() < 3
    assert cv2.imread(str(out / 'labels' / 'b.png')).shape[:2] == (25, 20)
    overlay = cv2.imread(str(out / 'overlays' / 'a.jpg'))
    assert overlay.shape[0] >= 30 and overlay.shape[1] > 40  # + legend
    probs = sorted(os.listdir(out / 'probs' / 'a'))
    assert probs == ['0_sky.png', '1_tree.png', '2_sofa.png']
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['classes'] == ['sky', 'tree', 'sofa, couch']
    assert set(summary['errors']) == {
        str(photos / 'broken.png'),
        str(tmp_path / 'missing.jpg')
    }
    found = summary['images'][str(photos / 'a.png')]['found']
    assert sum(item['area'] for item in found) == pytest.approx(1.0)
    assert (out / 'classes.txt').read_text().splitlines() == [
        'sky', 'tree', 'sofa, couch'
    ]


def test_more_than_255_classes_give_uint16_label_maps(infer_tool, tmp_path):
    write_image(tmp_path / 'a.png', 20, 24)
    vocabulary = tmp_path / 'words.txt'
    vocabulary.write_text('# many classes\n' + ''.join(f'thing {i}\n'
                                                       for i in range(300)))
    status = infer_tool.main([
        str(tmp_path / 'a.png'), '--config', CONFIG, '--classes-file',
        str(vocabulary), '--out-dir',
        str(tmp_path / 'out'), '--device', 'cpu'
    ])
    assert status == 0
    labels = cv2.imread(
        str(tmp_path / 'out' / 'labels' / 'a.png'), cv2.IMREAD_UNCHANGED)
    assert labels.dtype == np.uint16 and labels.shape == (20, 24)
    assert labels.max() < 300


@pytest.mark.parametrize('vocabulary,message', [
    (['--classes', 'sky', 'tree', 'Sky'], "index 2 \\('Sky'\\) duplicates"),
    (['--classes', 'sky', ''], 'index 1 is blank'),
    (['--classes-file', 'EMPTY'], 'holds no class name'),
    (['--classes-file', 'NOWHERE'], 'No such file'),
])
def test_bad_vocabulary_stops_before_any_image(infer_tool, tmp_path, capsys,
                                               vocabulary, message):
    write_image(tmp_path / 'a.png', 8, 8)
    (tmp_path / 'empty.txt').write_text('# nothing\n\n')
    vocabulary = [
        str(tmp_path / 'empty.txt') if word == 'EMPTY' else
        str(tmp_path / 'nowhere.txt') if word == 'NOWHERE' else word
        for word in vocabulary
    ]
    status = infer_tool.main([
        str(tmp_path / 'a.png'), '--config', CONFIG, '--out-dir',
        str(tmp_path / 'out'), '--device', 'cpu', *vocabulary
    ])
    assert status == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / 'out').exists()
