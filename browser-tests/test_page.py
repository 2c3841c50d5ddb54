"""Headless Chromium drives the page of `t2igan serve` (the bundled model): `make test-browser`.

Debian's chromium and chromedriver through Selenium; nothing is downloaded at run time. The first
test leaves a screenshot of the page in docs/images/serve-page.png (the README shows it).
T2IGAN_RUN=RUN_FOLDER serves that run instead of the bundled model.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageStat
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

os.environ.setdefault("SE_OFFLINE", "1")  # never let Selenium Manager fetch a browser or driver

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "images" / "serve-page.png"
PROMPT = "a black cat sitting on the grass at night"
SERVER_START_S = 120  # loading the sentence encoder takes a while on a busy CPU
REPLY_S = 60
MIN_STD = 2.0  # an image on screen whose pixels spread less than this is blank


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`t2igan serve` with the bundled model on a free port; yields its URL."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with open(log_path, "wb") as log:
        run = ["--run", os.environ["T2IGAN_RUN"]] if os.environ.get("T2IGAN_RUN") else []
        process = subprocess.Popen(
            [sys.executable, "-m", "t2igan", "serve", "--port", str(port), *run],
            stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"t2igan serve exited ({process.returncode}):\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(url + "api/info", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"t2igan serve did not answer in {SERVER_START_S} s:\n"
                                f"{log_path.read_text()}")
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1100,900", "--hide-scrollbars"):
        options.add_argument(argument)
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    yield driver
    driver.quit()


def _wait(driver: WebDriver, condition: Callable[[WebDriver], Any], what: str) -> Any:
    return WebDriverWait(driver, REPLY_S, poll_frequency=0.2).until(condition, f"no {what}")


def _loaded_images(driver: WebDriver) -> list[dict]:
    """The loaded <img> of #images: each one's src and viewport rectangle (CSS pixels)."""
    return driver.execute_script("""
        return [...document.querySelectorAll('#images img')]
          .filter((img) => img.complete && img.naturalWidth > 0)
          .map((img) => ({src: img.src, rect: img.getBoundingClientRect().toJSON()}));""")


def _decode(data_url: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGB")


def _text(driver: WebDriver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def test_generate_shows_the_images_and_saves_a_screenshot(server: str, browser: WebDriver,
                                                           tmp_path: Path) -> None:
    browser.get(server)
    prompt = browser.find_element(By.ID, "prompt")
    prompt.clear()
    prompt.send_keys(PROMPT)
    num = browser.find_element(By.ID, "num")
    num.clear()
    num.send_keys("4")
    browser.find_element(By.ID, "generate").click()
    images = _wait(browser, lambda d: (i := _loaded_images(d)) and len(i) == 4 and i, "4 images")
    _wait(browser, lambda d: _text(d, "status"), "status line")
    assert _text(browser, "error") == ""
    assert PROMPT in _text(browser, "caption")

    # checked where it is taken; it replaces the README's only when every check passes
    taken = tmp_path / SCREENSHOT.name
    assert browser.save_screenshot(str(taken))
    scale = browser.execute_script("return window.devicePixelRatio")
    with Image.open(taken) as screenshot:
        page = screenshot.convert("RGB")
    for image in images:
        rect = image["rect"]
        box = tuple(round(v * scale) for v in
                    (rect["left"], rect["top"], rect["right"], rect["bottom"]))
        width, height = box[2] - box[0], box[3] - box[1]
        assert width > 32 and height > 32, f"image too small on screen: {box}"
        assert 0 <= box[0] and 0 <= box[1] and box[2] <= page.width and box[3] <= page.height, \
            f"image {box} outside the {page.size} screenshot"
        inset = round(4 * scale)  # inside the rounded corners, where the page shows through
        shown = ImageStat.Stat(page.crop((box[0] + inset, box[1] + inset,
                                          box[2] - inset, box[3] - inset)))
        sent = ImageStat.Stat(_decode(image["src"]).resize((width, height), Image.NEAREST)
                              .crop((inset, inset, width - inset, height - inset)))
        assert max(abs(a - b) for a, b in zip(shown.mean, sent.mean)) < 4, \
            f"the screenshot at {box} is not the image the server sent"
        spread = max(shown.stddev)
        assert spread > MIN_STD, \
            f"image at {box} is blank (standard deviation {spread:.2f}); see {taken}"
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(taken, SCREENSHOT)


def test_interpolation_slider_changes_the_frame(server: str, browser: WebDriver) -> None:
    browser.get(server)
    browser.find_element(By.ID, "interpolate").click()
    frame_src = "const f = document.getElementById('frame'); " \
                "return f.complete && f.naturalWidth > 0 ? f.src : null;"
    first = _wait(browser, lambda d: d.execute_script(frame_src), "interpolation frame")
    assert first.startswith("data:image/png")
    slider = browser.find_element(By.ID, "slider")
    assert slider.is_enabled()
    slider.send_keys(Keys.END)  # the keyboard moves a range input and fires its input event
    last = _wait(browser, lambda d: (s := d.execute_script(frame_src)) != first and s, "new frame")
    assert last.startswith("data:image/png")
    steps = int(slider.get_attribute("max")) + 1
    assert slider.get_attribute("value") == str(steps - 1)
    assert _text(browser, "interp-status") == f"step {steps} of {steps}"
    assert _text(browser, "interp-error") == ""


def test_empty_prompt_shows_one_line_and_no_traceback(server: str, browser: WebDriver) -> None:
    browser.get(server)
    prompt = browser.find_element(By.ID, "prompt")
    prompt.clear()
    browser.find_element(By.ID, "generate").click()
    # "" is stopped by the browser (the input is `required`): no request, no images
    assert browser.execute_script("return document.getElementById('prompt').validity.valueMissing")
    assert _text(browser, "error") == "" and not _loaded_images(browser)
    prompt.send_keys("   ")  # passes `required`; the server cleans it to "" and refuses it
    browser.find_element(By.ID, "generate").click()
    message = _wait(browser, lambda d: _text(d, "error"), "error message")
    assert "empty" in message and "\n" not in message and "Traceback" not in message
    assert not _loaded_images(browser)
