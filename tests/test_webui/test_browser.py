"""The web demo in a real browser: headless Chromium drives the page.

The first test starts ``tools/webui.py`` with a random tiny model on a free
local port, uploads an image, types class names, waits for the result and
checks the legend against the label map PNG the page offers. The second
starts it without options where the zero-shot demo's model was trained (a
reduced run, the ``zero_shot_demo_run`` fixture) and checks that a held-out
scene with the twelve names gets a legend naming a material segmentation
training never saw, as the scene's ground truth holds it. Both save a
screenshot in the test's temporary folder. The README's screenshots were
taken with

    MROVSEG_WEBUI_TEST_CHECKPOINT=work_dirs/demo/iter_600.pth \
    MROVSEG_WEBUI_SCREENSHOT=docs/images/webui.png \
    MROVSEG_WEBUI_ZERO_SHOT_WORK_DIR=work_dirs/zero_shot_demo \
    MROVSEG_WEBUI_ZERO_SHOT_SCREENSHOT=docs/images/webui_zero_shot.png \
    bash tools/run_tests.sh -m slow tests/test_webui/test_browser.py

which serves the shapes demo's trained checkpoint instead of a random one
and the full zero-shot demo's run (``bash tools/run_zero_shot_demo.sh``)
instead of a reduced one. Needs gradio, selenium and Debian's chromium and
chromium-driver (``bash tools/install/webui_deps.sh``): without them the
test is skipped, except under CI, where it fails.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mrovseg_mmseg.apis import OVSegInferencer
from mrovseg_mmseg.datasets.material_world import (MATERIAL_CLASSES,
                                                   SEEN_CLASSES,
                                                   UNSEEN_CLASSES)
from mrovseg_mmseg.datasets.synthetic_shapes import SHAPE_CLASSES
from mrovseg_mmseg.webui.page import PRESETS, write_examples

pytestmark = pytest.mark.slow

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CONFIG = os.path.join(ROOT, 'configs', 'mrovseg_tiny_shapes64.py')
# docs/images/webui.png and webui_zero_shot.png (the README's) are written
# when asked for, see above
SCREENSHOT = os.environ.get('MROVSEG_WEBUI_SCREENSHOT')
ZERO_SHOT_SCREENSHOT = os.environ.get('MROVSEG_WEBUI_ZERO_SHOT_SCREENSHOT')
# without these, Chromium reaches out to Google's services at start-up
CHROMIUM_FLAGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--window-size=1400,1250'
]
# straight to the local server, whatever proxy the environment names
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
START_TIMEOUT = 180
RESULT_TIMEOUT = 120


def require(what: str, present: bool) -> None:
    """Skip without a dependency; under CI, which installs them, fail."""
    if present:
        return
    message = (f'{what} is missing: install the browser test\'s dependencies '
               'with `bash tools/install/webui_deps.sh`')
    if os.environ.get('CI'):
        pytest.fail(message)
    pytest.skip(message)


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def read_log(path) -> str:
    with open(path, encoding='utf-8', errors='replace') as file:
        return file.read()[-6000:]


def serve(folder, options):
    """Start ``tools/webui.py OPTIONS --port P --device cpu`` in ``folder``;
    yield (URL, log file) once it answers, stop it afterwards."""
    port = free_port()
    log_path = folder / 'server.log'
    env = dict(
        os.environ,
        GRADIO_ANALYTICS_ENABLED='False',
        GRADIO_TEMP_DIR=str(folder / 'gradio'),
        PYTHONUNBUFFERED='1')
    env['TMPDIR'] = str(folder)
    with open(log_path, 'w') as log:
        process = subprocess.Popen(
            [sys.executable,
             os.path.join(ROOT, 'tools', 'webui.py')] + options +
            ['--port', str(port), '--device', 'cpu'],
            cwd=str(folder),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True)
    url = f'http://127.0.0.1:{port}/'
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f'the web demo exited with status '
                            f'{process.returncode}:\n{read_log(log_path)}')
            try:
                with OPENER.open(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f'the web demo did not answer on {url} within '
                            f'{START_TIMEOUT} s:\n{read_log(log_path)}')
            time.sleep(0.5)
        yield url, log_path
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        print(f'web demo log (shown when a test failed):\n'
              f'{read_log(log_path)}')
        leftovers = list(folder.glob('mrovseg_webui_*'))
        assert not leftovers, f'the web demo left {leftovers} behind'


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    """URL and log file of the page serving a random tiny model."""
    require('gradio', _importable('gradio'))
    folder = tmp_path_factory.mktemp('webui')
    checkpoint = os.environ.get('MROVSEG_WEBUI_TEST_CHECKPOINT')
    if checkpoint:
        checkpoint = os.path.abspath(checkpoint)
    else:
        checkpoint = folder / 'random_tiny.pth'
        model = OVSegInferencer(CONFIG, device='cpu').model
        torch.save(
            dict(
                state_dict=model.state_dict(),
                meta=dict(dataset_meta=dict(classes=SHAPE_CLASSES))),
            checkpoint)
    yield from serve(folder,
                     ['--config', CONFIG, '--checkpoint',
                      str(checkpoint)])


@pytest.fixture(scope='module')
def zero_shot_server(tmp_path_factory, request):
    """URL, log file and the material world of the page started without
    options in a folder where the zero-shot demo's model was trained: its
    ``work_dirs/zero_shot_demo`` is the reduced run's, or the one
    ``MROVSEG_WEBUI_ZERO_SHOT_WORK_DIR`` names."""
    require('gradio', _importable('gradio'))
    work_dir = os.environ.get('MROVSEG_WEBUI_ZERO_SHOT_WORK_DIR')
    if work_dir:
        work_dir = os.path.abspath(work_dir)
    else:
        work_dir = request.getfixturevalue('zero_shot_demo_run').work_dir
    folder = tmp_path_factory.mktemp('webui_zero_shot')
    (folder / 'work_dirs').mkdir()
    (folder / 'work_dirs' / 'zero_shot_demo').symlink_to(work_dir)
    # the held-out scenes are where the run's training config put them
    run = os.path.join(work_dir, 'paper', 'seed0')
    with open(os.path.join(run, 'last_checkpoint')) as record:
        checkpoint = os.path.join(ROOT, record.read().strip())
    meta = torch.load(
        checkpoint, map_location='cpu', weights_only=True)['meta']
    data_root = Config.fromstring(meta['cfg'],
                                  '.py').test_dataloader.dataset.data_root
    for url, log_path in serve(folder, []):
        yield url, log_path, Path(ROOT, data_root)


@pytest.fixture
def browser(tmp_path):
    require('selenium', _importable('selenium'))
    chromium = shutil.which('chromium')
    chromedriver = shutil.which('chromedriver')
    require("Debian's chromium", chromium is not None)
    require("Debian's chromium-driver", chromedriver is not None)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS + [f'--user-data-dir={tmp_path / "profile"}']:
        options.add_argument(flag)
    options.set_capability('goog:loggingPrefs', {'performance': 'ALL'})
    # Chromium writes crash reports and dconf state under HOME
    home = tmp_path / 'home'
    env = dict(os.environ, HOME=str(home),
               XDG_CONFIG_HOME=str(home / '.config'),
               XDG_CACHE_HOME=str(home / '.cache'))
    driver = webdriver.Chrome(
        service=Service(executable_path=chromedriver, env=env),
        options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, condition, what: str, log_path, timeout: float):
    """Poll ``condition(driver)`` until truthy; fail with the page state."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition(driver)
        except Exception:  # the page is still changing
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            status = driver.execute_script(
                "const s = document.querySelector('#status');"
                "return s ? s.innerText : '(no status)';")
            pytest.fail(f'timed out after {timeout} s waiting for {what}; '
                        f'status on the page: {status!r}\nserver log:\n'
                        f'{read_log(log_path)}')
        time.sleep(0.25)


def set_classes(driver, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    box = driver.find_element(By.CSS_SELECTOR, '#classes textarea')
    box.send_keys(Keys.CONTROL, 'a')
    box.send_keys(Keys.DELETE)
    box.send_keys(text)


def status_of(driver):
    from selenium.webdriver.common.by import By
    found = driver.find_elements(By.CSS_SELECTOR, '#status .mrovseg-status')
    if not found:
        return None
    return found[0].get_attribute('class').split()[-1], found[0].text


def image_loaded(driver, selector: str):
    """(width, height) of a loaded <img>, else None."""
    size = driver.execute_script(
        'const img = document.querySelector(arguments[0]);'
        'return img && img.complete && img.naturalWidth > 0 ? '
        '[img.naturalWidth, img.naturalHeight] : null;', selector)
    return tuple(size) if size else None


def image_source(driver, selector: str):
    """The src of an <img>, None without one."""
    return driver.execute_script(
        'const img = document.querySelector(arguments[0]);'
        'return img ? img.src : null;', selector)


def test_upload_classes_and_result_in_chromium(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    url, log_path = server
    started = time.monotonic()
    upload = str(tmp_path / 'upload.png')
    os.rename(write_examples(str(tmp_path), count=1)[0], upload)
    browser.get(url)
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '#segment'),
             'the page to load', log_path, 60)

    # a preset fills the class box with a benchmark's vocabulary
    browser.find_element(By.CSS_SELECTOR, '#preset input').click()
    option = wait_for(
        browser, lambda d: d.find_element(
            By.CSS_SELECTOR, '#preset li[aria-label="PASCAL VOC (20)"]'),
        'the preset list', log_path, 30)
    option.click()
    wait_for(
        browser, lambda d: d.find_element(By.CSS_SELECTOR, '#classes textarea'
                                          ).get_attribute('value') ==
        '\n'.join(PRESETS['PASCAL VOC (20)']), 'the preset\'s classes',
        log_path, 30)
    set_classes(browser, 'sky\nsea')  # typing clears the preset shown
    wait_for(
        browser, lambda d: d.find_element(By.CSS_SELECTOR, '#preset input').
        get_attribute('value') == '', 'the preset to clear', log_path, 30)

    # bad input: a message on the page, no result
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'\x89PNG\r\n\x1a\n not an image')
    browser.find_element(By.CSS_SELECTOR,
                         '#input-image input[type=file]').send_keys(
                             str(broken))
    browser.find_element(By.CSS_SELECTOR, '#segment').click()
    kind, text = wait_for(browser, status_of, 'the error message', log_path,
                          RESULT_TIMEOUT)
    assert kind == 'error' and "cannot decode 'broken.png'" in text
    browser.find_element(By.CSS_SELECTOR,
                         '#input-image input[type=file]').send_keys(upload)
    wait_for(browser, lambda d: image_loaded(d, '#input-image img'),
             'the uploaded image to show', log_path, 30)
    set_classes(browser, 'sky\nSky')
    browser.find_element(By.CSS_SELECTOR, '#segment').click()
    kind, text = wait_for(
        browser, lambda d: 'duplicates' in status_of(d)[1] and status_of(d),
        'the duplicate class message', log_path, RESULT_TIMEOUT)
    assert kind == 'error'
    assert "line 2 ('Sky') duplicates line 1 ('sky')" in text
    assert not browser.find_elements(By.CSS_SELECTOR, '#legend td.name')

    set_classes(browser, '\n'.join(SHAPE_CLASSES))
    browser.find_element(By.CSS_SELECTOR, '#segment').click()
    wait_for(browser, lambda d: (status_of(d) or ('', ''))[0] == 'ok',
             'the result', log_path, RESULT_TIMEOUT)
    names = [
        cell.text
        for cell in browser.find_elements(By.CSS_SELECTOR, '#legend td.name')
    ]
    overlay = wait_for(browser, lambda d: image_loaded(d, '#overlay img'),
                       'the overlay image', log_path, 30)
    label_view = wait_for(browser,
                          lambda d: image_loaded(d, '#label-map img'),
                          'the label map image', log_path, 30)
    assert overlay == label_view == (256, 256)
    assert 'classes found in' in status_of(browser)[1]

    # the legend names exactly the classes the label map PNG contains
    link = browser.find_element(By.CSS_SELECTOR, '#download a[download]')
    href = urllib.parse.urljoin(url, link.get_attribute('href'))
    with OPENER.open(href, timeout=30) as response:
        data = np.frombuffer(response.read(), np.uint8)
    labels = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    assert labels.shape == (256, 256) and labels.dtype == np.uint8
    assert names and sorted(names) == sorted(SHAPE_CLASSES[i]
                                             for i in np.unique(labels))
    areas = [
        cell.text
        for cell in browser.find_elements(By.CSS_SELECTOR, '#legend td.area')
    ]
    assert len(areas) == len(names) and all(a.endswith('%') for a in areas)

    screenshot = SCREENSHOT or str(tmp_path / 'webui.png')
    os.makedirs(os.path.dirname(os.path.abspath(screenshot)), exist_ok=True)
    assert browser.save_screenshot(screenshot)
    with Image.open(screenshot) as shot:
        assert shot.size[0] >= 1000

    # the second tab: the proposals picture and a row per proposal
    browser.find_element(
        By.XPATH, '//button[@role="tab"][contains(., "Mask proposals")]'
    ).click()
    picture = wait_for(browser, lambda d: image_loaded(d, '#proposals img'),
                       'the proposals picture', log_path, 30)
    assert picture[0] > 256 and picture[1] > 256  # a grid of 256 px tiles
    classes = [
        cell.text for cell in browser.find_elements(
            By.CSS_SELECTOR, '#proposal-table td.name')
    ]
    assert len(classes) == 8 and set(classes) <= set(SHAPE_CLASSES)
    assert browser.save_screenshot(str(tmp_path / 'webui_proposals.png'))
    browser.find_element(
        By.XPATH, '//button[@role="tab"][contains(., "Label map")]').click()

    # the first example fills the image and the classes
    set_classes(browser, 'cat')
    browser.find_element(By.CSS_SELECTOR,
                         '#examples [data-testid="dataset-cell-0-0"]').click()
    wait_for(
        browser, lambda d: d.find_element(By.CSS_SELECTOR, '#classes textarea'
                                          ).get_attribute('value') ==
        '\n'.join(SHAPE_CLASSES), 'the example\'s classes', log_path, 30)
    browser.find_element(By.CSS_SELECTOR, '#segment').click()
    wait_for(browser, lambda d: "'shapes_1.png'" in status_of(d)[1],
             'the result of the example', log_path, RESULT_TIMEOUT)
    # two pages at once: both are answered, each with its own classes
    first = browser.current_window_handle
    browser.switch_to.new_window('window')
    second = browser.current_window_handle
    browser.get(url)
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '#segment'),
             'the second page to load', log_path, 60)
    browser.find_element(By.CSS_SELECTOR,
                         '#input-image input[type=file]').send_keys(upload)
    wait_for(browser, lambda d: image_loaded(d, '#input-image img'),
             'the image on the second page', log_path, 30)
    set_classes(browser, 'grass\nsand')
    browser.switch_to.window(first)
    set_classes(browser, 'red disc\nblue square\nsky')
    browser.find_element(By.CSS_SELECTOR, '#segment').click()
    browser.switch_to.window(second)
    browser.find_element(By.CSS_SELECTOR, '#segment').click()
    for window, expected in ((second, "of 2 classes found in 'upload.png'"),
                             (first, "of 3 classes found in 'shapes_1.png'")):
        browser.switch_to.window(window)
        wait_for(browser, lambda d: expected in status_of(d)[1],
                 f'{expected!r} on both pages', log_path, RESULT_TIMEOUT)

    # every request the page made went to this machine
    hosts = set()
    for entry in browser.get_log('performance'):
        message = json.loads(entry['message'])['message']
        if message['method'] == 'Network.requestWillBeSent':
            parsed = urllib.parse.urlparse(message['params']['request']['url'])
            if parsed.scheme in ('http', 'https', 'ws', 'wss'):
                hosts.add(parsed.hostname)
    assert hosts == {'127.0.0.1'}

    print(f'browser session took {time.monotonic() - started:.1f} s')


def test_zero_shot_demo_names_an_unseen_material_in_chromium(
        zero_shot_server, browser, tmp_path):
    """The page's default once the zero-shot demo is trained: held-out
    scenes, all twelve names, and what the model knows."""
    from selenium.webdriver.common.by import By
    url, log_path, data_root = zero_shot_server
    browser.get(url)
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '#segment'),
             'the page to load', log_path, 60)
    about = ' '.join(
        browser.find_element(By.CSS_SELECTOR, '#model-note').text.split())
    about = re.sub(r' ([,.;)])', r'\1', about)  # code spans' edges
    assert "Model: the zero-shot demo's" in about
    assert 'Other models: the shapes demo: --demo shapes' in about
    assert ('Segmentation training saw 8 names: ' + ', '.join(SEEN_CLASSES)
            + '. Its CLIP was pretrained') in about
    box = browser.find_element(By.CSS_SELECTOR, '#classes textarea')
    assert box.get_attribute('value') == '\n'.join(MATERIAL_CLASSES)
    unseen = ', '.join(repr(name) for name in UNSEEN_CLASSES)
    assert browser.find_element(By.CSS_SELECTOR, '#vocabulary-note').text == (
        f'not seen in segmentation training: {unseen}. They are named '
        'through the pretrained CLIP (open vocabulary).')

    # the examples: held-out scenes, those where an unseen material covers
    # a fifth of the picture or more first. Each is segmented with the
    # twelve names; a model this small misses some, so one of them must
    # name an unseen material its ground truth holds
    cells = browser.find_elements(
        By.CSS_SELECTOR, '#examples [data-testid^="dataset-cell-"]'
        '[data-testid$="-0"]')
    assert len(cells) == 4
    named, seen = {}, []
    previous = ''
    for index in range(len(cells)):
        shown = image_source(browser, '#input-image img')
        browser.find_element(
            By.CSS_SELECTOR,
            f'#examples [data-testid="dataset-cell-{index}-0"]').click()
        wait_for(
            browser, lambda d: image_source(d, '#input-image img') != shown
            and image_loaded(d, '#input-image img'),
            f'example {index} to show', log_path, 30)
        browser.find_element(By.CSS_SELECTOR, '#segment').click()
        kind, text = wait_for(
            browser, lambda d: 'classes found' in status_of(d)[1] and
            status_of(d)[1] != previous and status_of(d),
            f'the result of example {index}', log_path, RESULT_TIMEOUT)
        previous = text
        assert kind == 'ok' and ' of 12 classes found in ' in text
        scene = re.search(r"'held_out_(\d+)\.png'", text).group(1)
        truth = np.asarray(
            Image.open(data_root / 'annotations' / 'val' / f'{scene}.png'))
        in_truth = {MATERIAL_CLASSES[i] for i in np.unique(truth)}
        rows = {
            row.find_element(By.CSS_SELECTOR, 'td.name').text:
            row.find_element(By.CSS_SELECTOR, 'td.training').text
            for row in browser.find_elements(By.CSS_SELECTOR,
                                             '#legend tbody tr')
        }
        assert rows and set(rows) <= set(MATERIAL_CLASSES)
        assert all(rows[name] == ('no' if name in UNSEEN_CLASSES else 'yes')
                   for name in rows)
        seen.append(f'scene {scene}: legend {sorted(rows)}, ground truth '
                    f'{sorted(in_truth)}')
        if not named:
            named = rows.keys() & in_truth & set(UNSEEN_CLASSES)
            if named:  # the page as it names an unseen material
                browser.execute_script('window.scrollTo(0, 0);')
                screenshot = ZERO_SHOT_SCREENSHOT or str(
                    tmp_path / 'webui_zero_shot.png')
                os.makedirs(
                    os.path.dirname(os.path.abspath(screenshot)),
                    exist_ok=True)
                assert browser.save_screenshot(screenshot)
    print('\n'.join(seen))
    assert named, 'no example named an unseen material of its scene:\n' + \
        '\n'.join(seen)

    # the note follows the class box as it is typed
    set_classes(browser, 'sand\nwater\nsky, clouds')
    wait_for(
        browser, lambda d: d.find_element(By.CSS_SELECTOR, '#vocabulary-note'
                                          ).text.startswith(
            "not seen in segmentation training: 'water', 'sky, clouds'."),
        'the note on the names typed', log_path, 30)
