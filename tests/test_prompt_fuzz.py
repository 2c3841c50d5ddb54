"""A prompt fuzzer: PROMPTS hostile prompts (1,000+), seeded, each through the Python API on its
own. Every call returns images of the right shape or raises a one-line UserError; nothing else
(the README's "1,000+ fuzzed prompts, 0 tracebacks").

Fast by construction: the valid prompts are embedded in one batch first (the model keeps their
vectors), so each single call after it costs one tiny generator pass; and the prompts are built
from a few sentences, so few distinct texts reach the sentence encoder."""

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import t2igan
from t2igan.api import RECENT
from t2igan.cli import main
from t2igan.errors import UserError
from t2igan.prompts import MAX_PROMPT_CHARS, clean_prompts

PROMPTS = 1200  # prompts fuzzed, each through generate_arrays and embed alone
SENTENCES = [
    "a ginger cat lying on a blue rug", "a red pickup truck on a street at night",
    "猫が青い敷物の上に横たわっている", "一只橘猫躺在蓝色地毯上", "빨간 트럭이 밤거리에 있다",
    "قطة برتقالية مستلقية على سجادة زرقاء", "חתול ג'ינג'י שוכב על שטיח כחול",
    "नीले गलीचे पर लेटी एक नारंगी बिल्ली", "একটি লাল গাড়ি", "Кошка лежит на синем ковре",
    "Μια γάτα σε ένα μπλε χαλί", "una gata pelirroja en una alfombra azul", "ça, c'est très café",
    "a cat 🐈 and a car 🚗", "👩‍💻 👨‍👩‍👧‍👦 🏳️‍🌈 👍🏽", "Z̤̈a̧͂l̗g̈o cat",
    "ﬁne ligatures and ｆｕｌｌｗｉｄｔｈ",
    "𝔞 𝔠𝔞𝔱 𝔦𝔫 𝔣𝔯𝔞𝔨𝔱𝔲𝔯", "می‌خواهم یک گربه", "a\u0301 combining", "123 456", "!!! ??? ...",
    "<script>alert(1)</script>", "'; DROP TABLE prompts; --", "%s %n {0} ${HOME} $(ls)",
    "../../etc/passwd", "C:\\Windows\\system32", "null", "None", "NaN", "\\u0000 \\n",
]
WORDS = ["a", "cat", "car", "red", "blue", "猫", "قطة", "बिल्ली", "🐈", "e\u0301", "night", "rug"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u00ad", "\u2060", "\u180e", "\u200e",
             "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067",
             "\u2068", "\u2069", "\ue000", "\U000e0001", "\U0010fffd"]
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x1b", "\x7f", "\x80", "\x9f"]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u00a0", "\u2003",
          "\u3000", "\u2028", "\u2029"]
SURROGATES = ["\udcff", "\udcfe", "\udc80", "\ud800", "\udbff", "\udfff"]
NOT_TEXT = [None, 0, 7, 10**30, 3.5, float("nan"), True, b"a cat", bytearray(b"cat"),
            {"prompt": "a cat"}, object(), ["a cat", None], ["a cat", b"x"], [], [[]], ()]
# kind -> True: must be refused; False: must be accepted; None: either (the fuzzer only asks
# that the answer is images or one line)
REFUSED = {"decorated": False, "words": False, "combining": None, "random": None, "empty": True,
           "surrogate": True, "long": True, "limit": False, "not-text": True}


def decorate(rng: random.Random, text: str) -> str:
    """Invisible characters and control characters anywhere, odd spaces between words."""
    words = text.split(" ")
    text = "".join(word + rng.choice(SPACES) for word in words)
    chars = list(rng.choice(SPACES) * rng.randint(0, 2) + text)
    for _ in range(rng.randint(0, 6)):
        chars.insert(rng.randint(0, len(chars)), rng.choice(INVISIBLE + CONTROLS))
    return "".join(chars)


def fuzzed(rng: random.Random) -> tuple[str, object]:
    """One prompt: (its kind, the value)."""
    kind = rng.choices(list(REFUSED), weights=[45, 12, 6, 8, 10, 6, 3, 1, 9])[0]
    if kind == "decorated":
        return kind, decorate(rng, rng.choice(SENTENCES))
    if kind == "words":
        return kind, " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
    if kind == "combining":  # a letter (or none) under a stack of combining marks
        marks = "".join(chr(rng.randint(0x300, 0x36F)) for _ in range(rng.randint(1, 12)))
        return kind, rng.choice(["", "a", "猫"]) + marks
    if kind == "random":  # any code points but surrogates: unassigned, private, symbols
        points = [rng.choice([rng.randint(0x20, 0x2FF), rng.randint(0, 0xD7FF),
                              rng.randint(0xE000, 0x10FFFF)]) for _ in range(rng.randint(1, 8))]
        return kind, "".join(map(chr, points))
    if kind == "empty":
        return kind, "".join(rng.choice(SPACES + INVISIBLE + CONTROLS)
                             for _ in range(rng.randint(0, 20)))
    if kind == "surrogate":  # what Python makes of bytes that are not UTF-8 (surrogateescape)
        text = rng.choice(SENTENCES)
        at = rng.randint(0, len(text))
        return kind, text[:at] + rng.choice(SURROGATES) + text[at:]
    if kind == "long":
        return kind, rng.choice(["x", "猫", "a ", "🐈"]) * rng.choice([2001, 5000, 100_000])
    if kind == "limit":  # exactly as long as allowed
        return kind, "a" * MAX_PROMPT_CHARS
    return kind, rng.choice(NOT_TEXT)


FUZZED = [fuzzed(random.Random(f"t2igan-fuzz-{i}")) for i in range(PROMPTS)]


@pytest.fixture(scope="module")
def model(tiny_run: Path) -> Iterator[t2igan.TextToImage]:
    # many calls of a tiny generator: one thread spares splitting each small op across cores
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model = t2igan.load(tiny_run, device="cpu")
    accepted = []
    for _kind, value in FUZZED:
        try:
            accepted += clean_prompts(value)
        except UserError:
            pass
    assert len(set(accepted)) < RECENT  # one batch embeds them all; later calls find them
    model.embed(accepted)
    yield model
    torch.set_num_threads(threads)


def answer(call: Callable[..., object], *args: object, **kwargs: object) -> object:
    """What call(*args, **kwargs) returned, or the UserError it raised, checked to be one
    printable line."""
    try:
        return call(*args, **kwargs)
    except UserError as error:
        message = str(error)
        assert message and "\n" not in message and len(message) < 300, message
        message.encode("utf-8")  # printable on stderr: no lone surrogate in it
        return error


def rows(value: object) -> int:
    return len(value) if isinstance(value, list) else 1


def test_there_are_over_a_thousand_prompts_of_every_kind() -> None:
    kinds = {kind for kind, _value in FUZZED}
    assert len(FUZZED) >= 1000 and kinds == set(REFUSED)


def test_every_prompt_makes_images_or_one_line(model: t2igan.TextToImage) -> None:
    width, height = model.image_size
    for seed, (kind, value) in enumerate(FUZZED):
        got = answer(model.generate_arrays, value, seed=seed)
        if REFUSED[kind] is not None:
            assert isinstance(got, UserError) == REFUSED[kind], (kind, ascii(value)[:80], got)
        if not isinstance(got, UserError):
            assert got.shape == (rows(value), height, width, 3) and got.dtype == np.uint8


def test_every_prompt_has_a_vector_or_one_line(model: t2igan.TextToImage) -> None:
    for kind, value in FUZZED:
        got = answer(model.embed, value)
        if REFUSED[kind] is not None:
            assert isinstance(got, UserError) == REFUSED[kind], (kind, ascii(value)[:80], got)
        if not isinstance(got, UserError):
            assert got.shape[0] == rows(value) and torch.isfinite(got).all()


def test_invisible_characters_change_nothing(model: t2igan.TextToImage) -> None:
    plain = model.generate_arrays(SENTENCES[0], seed=3)
    hidden = "\u200b\ufeff" + SENTENCES[0].replace("cat", "c\u00adat\u202e") + "\x00"
    assert np.array_equal(model.generate_arrays(hidden, seed=3), plain)


def test_a_subset_through_grid_and_interpolation(model: t2igan.TextToImage) -> None:
    rng = random.Random(0)
    accepted = [v for k, v in FUZZED if k in ("decorated", "words")]
    hostile = [v for k, v in FUZZED if REFUSED[k]]
    width, height = model.image_size
    assert answer(model.grid, accepted[:24], num=2).width >= 2 * width
    for _ in range(12):
        start, end = rng.choice(accepted), rng.choice(accepted + hostile)
        got = answer(model.interpolate, start, end, steps=3)
        assert isinstance(got, UserError) == (end in hostile)
        got = answer(model.interpolate, end, start, steps=3)
        assert isinstance(got, UserError) == (end in hostile)
        got = answer(model.grid, end, num=2)
        assert isinstance(got, UserError) == (end in hostile)
    frames = answer(model.interpolate_noise, accepted[:10], steps=3)
    assert len(frames) == 30 and frames[0].size == (width, height)
    assert isinstance(answer(model.interpolate_noise, hostile[:10], steps=3), UserError)


def test_undecodable_command_line_bytes_are_refused_in_one_line(
        tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`t2igan generate --prompt $'\\xff\\xfe cat'`: Python hands the bytes over as lone
    surrogates; drawing "cat" instead would hide a terminal that sends another encoding."""
    out = tmp_path / "g.png"
    assert main(["generate", "--run", str(tiny_run), "--prompt", "\udcff\udcfe cat",
                 "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        "t2igan: error: a prompt holds bytes that are not UTF-8 text (\\xff\\xfe): check the "
        "encoding of the terminal or file")
    assert not out.exists()
