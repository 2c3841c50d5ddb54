"""Hostile dataset files: every format, fuzzed line by line, gives valid entries or one UserError.

Each fuzzer builds a tiny valid dataset, mutates some of its records (bytes that are not UTF-8,
NUL bytes, a BOM, fields of the wrong JSON type, captions as a bare string, names outside the
dataset's folder, duplicates, empty, huge, truncated and deeply nested lines), scans it, and checks
that every untouched record comes back exactly, that no entry lies outside the folder, and that
nothing but UserError is ever raised. tests/test_formats.py pins each rule's reason text.
"""

from __future__ import annotations

import io
import json
import os
import random
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from t2igan.data.sources import OUTSIDE, Source, SourceOptions, count_reasons, open_source
from t2igan.errors import UserError
from test_formats_archives import write_lmdb

SEEDS = range(10)
IMAGES = 10  # per dataset; 6 of them are mutated
MIN_FUZZED_LINES = 900  # the README reports "N fuzzed data lines, 0 tracebacks"
FUZZED: dict[str, int] = {}  # format -> data lines mutated
BAD_UTF8 = [b"\xff", b"\xc3", b"\x80", b"\xed\xa0\x80", b"\xf0\x9f\x98", b"\xc0\xaf"]
WRONG = ["a bare string caption", 7, 2.5, True, None, {"a": "b"}, [1, 2], ["fine caption", 3],
         [["nested"]], {"captions": ["x"]}]


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (seed * 20 % 256, 80, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def captions(i: int) -> list[str]:
    return [f"a red cat number {i}", f"a small cat {i} on a rug"]


def outside(tmp: Path) -> Path:
    """A valid image and caption file outside every dataset folder: what no scan may read."""
    folder = tmp / "outside"
    if not folder.is_dir():
        folder.mkdir()
        (folder / "secret.png").write_bytes(png(99))
        (folder / "secret.txt").write_text("the secret caption\n")
    return folder


def outside_names(root: Path) -> list[str]:
    """Names of the outside files: relative, absolute, through a file symlink and a folder one."""
    folder = outside(root.parent)
    (root / "img").mkdir(parents=True, exist_ok=True)
    if not (root / "img" / "link.png").is_symlink():
        os.symlink(folder / "secret.png", root / "img" / "link.png")
        os.symlink(folder, root / "linkdir")
    return ["../outside/secret.png", str(folder / "secret.png"), "img/link.png",
            "linkdir/secret.png", "img/../../outside/secret.png", "/etc/passwd"]


def mutate_bytes(rng: random.Random, line: bytes) -> bytes:
    """One line, damaged one way."""
    at, kind = rng.randrange(len(line) + 1), rng.randrange(9)
    if kind == 0:  # random bytes (no line breaks: those make two lines, tested apart)
        junk = bytes(rng.choice([b for b in range(256) if b not in (10, 13)])
                     for _ in range(rng.randint(1, 4)))
        return line[:at] + junk + line[at:]
    if kind == 1:
        return line[:at] + rng.choice(BAD_UTF8) + line[at:]
    if kind == 2:
        return line[:at] + b"\x00" * rng.randint(1, 3) + line[at:]
    if kind == 3:
        return line[:at]  # truncated
    if kind == 4:
        return line[:at] + b"x" * 200_000 + line[at:]  # huge
    if kind == 5:
        return rng.choice([b"", b"   ", b"\t", b"\x0c"])
    if kind == 6:
        return bytes(rng.randrange(256) for _ in range(60)).replace(b"\n", b"").replace(b"\r", b"")
    if kind == 7:
        return rng.choice([b"[" * 100_000, b'{"a":' * 50_000])  # nested past the recursion limit
    return b"\xef\xbb\xbf" + line  # a BOM where none belongs


def mutate_record(rng: random.Random, record: dict, keys: list[str], caption_key: str,
                  name_key: str, names: list[str]) -> bytes:
    """One JSON record with a field of the wrong type, bare-string captions, a name outside the
    folder, or not an object at all."""
    record, kind = dict(record), rng.randrange(5)
    if kind == 0:
        record[rng.choice(keys)] = rng.choice(WRONG)
    elif kind == 1:
        record[caption_key] = "a bare string caption"
    elif kind == 2:
        record[name_key] = rng.choice(names)
    elif kind == 3:
        return json.dumps(rng.choice([[record], 5, "a string", None, []])).encode()
    else:
        record.pop(rng.choice(keys), None)
    return json.dumps(record).encode()


def mutate(rng: random.Random, line: bytes, record: dict | None, **fields: object) -> bytes:
    return (mutate_record(rng, record, **fields) if record is not None and rng.random() < 0.4
            else mutate_bytes(rng, line))


def write_lines(rng: random.Random, file: Path, lines: list[bytes]) -> None:
    """With or without a BOM, LF or CRLF, a final newline or not, an empty line or not."""
    if rng.random() < 0.3:
        lines = lines[:2] + [b""] + lines[2:]
    data = (b"\r\n" if rng.random() < 0.3 else b"\n").join(lines)
    data = (b"\xef\xbb\xbf" if rng.random() < 0.3 else b"") + data
    file.write_bytes(data + (b"\n" if rng.random() < 0.7 else b""))


def scanned(fmt: str, path: Path, expected: dict[str, list[str]], lines: int,
            options: SourceOptions | None = None, may_fail: bool = False) -> Source | None:
    """Scan; check every entry is valid and every expected one is there; count the lines."""
    FUZZED[fmt] = FUZZED.get(fmt, 0) + lines
    try:
        source = open_source(path, options)
    except UserError as error:
        assert may_fail, f"{fmt}: {error}"
        assert "\n" not in str(error)
        return None
    root = (path if path.is_dir() else path.parent).resolve()
    assert source.format == fmt
    for entry in source.entries:
        file = entry.ref if isinstance(entry.ref, str) else entry.ref[0]
        assert Path(file).resolve().is_relative_to(root), entry
        assert entry.captions and all(isinstance(c, str) and c.strip() for c in entry.captions)
        assert sum(len(c) == 1 for c in entry.captions) < 2, entry  # not list("a cat")
        assert isinstance(entry.extras, dict) and entry.name.isprintable()
        assert "the secret caption" not in entry.captions
    got = {e.name: e.captions for e in source.entries}
    for name, texts in expected.items():
        assert got.get(name) == texts, (fmt, name, got.get(name))
    assert all(s.name.isprintable() and s.reason for s in source.skipped)
    assert sum(count_reasons(source.skipped).values()) == len(source.skipped)
    return source


def fuzz_jsonl(tmp: Path, seed: int, fmt: str, manifest: str, name_key: str, caption_key: str,
               extra_key: str) -> None:
    rng, root = random.Random(seed), tmp / f"{fmt}-{seed}"
    names = outside_names(root)
    records = []
    for i in range(IMAGES):
        (root / "img" / f"cat_{i:02d}.png").write_bytes(png(i))
        records.append({name_key: f"img/cat_{i:02d}.png", caption_key: captions(i),
                        extra_key: {"colour": "red"}})
    lines = [json.dumps(r).encode() for r in records]
    victims = rng.sample(range(IMAGES), 6)
    for i in victims:
        lines[i] = mutate(rng, lines[i], records[i], keys=[name_key, caption_key, extra_key],
                          caption_key=caption_key, name_key=name_key, names=names)
    kept = [i for i in range(IMAGES) if i not in victims]
    copies = [dict(records[kept[0]]), dict(records[kept[1]], **{name_key: "img/../img/"
                                                                 f"cat_{kept[1]:02d}.png"})]
    copies += [dict(records[kept[2]], **{name_key: name}) for name in names]
    write_lines(rng, root / manifest, lines + [json.dumps(r).encode() for r in copies])
    expected = {f"img/cat_{i:02d}.png": captions(i) for i in kept}
    source = scanned(fmt, root, expected, len(victims) + len(copies))
    reasons = count_reasons(source.skipped)
    assert reasons["duplicate"] >= 2 and reasons[OUTSIDE.split(" (")[0]] >= len(names)


def test_fuzz_captioned_folder(tmp_path: Path) -> None:
    for seed in SEEDS:
        fuzz_jsonl(tmp_path, seed, "captioned-folder", "captions.jsonl", "file", "captions",
                   "attributes")


def test_fuzz_metadata_jsonl(tmp_path: Path) -> None:
    for seed in SEEDS:
        fuzz_jsonl(tmp_path, seed, "metadata-jsonl", "metadata.jsonl", "file_name", "text",
                   "label")


def mutate_cells(rng: random.Random, name: str, caption: str, names: list[str]) -> bytes:
    """A CSV row gone wrong by its cells: outside names, stray quotes, unquoted commas."""
    kind = rng.randrange(5)
    if kind == 0:
        name = rng.choice(names)
    elif kind == 1:
        caption = '"' + caption  # a quote never closed
    elif kind == 2:
        caption = caption.replace(" ", ", ", 1)  # a comma nobody quoted
    elif kind == 3:
        name = ""
    else:
        caption = f'"{caption}"x'
    return f"{name},{caption},cat".encode()


def test_fuzz_csv(tmp_path: Path) -> None:
    for seed in SEEDS:
        rng, root = random.Random(seed), tmp_path / f"csv-{seed}"
        names = outside_names(root)
        rows, victims = {}, set(rng.sample(range(IMAGES), 6))
        for i in range(IMAGES):
            name = f"img/cat_{i:02d}.png"
            (root / name).write_bytes(png(i))
            rows[i] = [f"{name},{c},cat".encode() for c in captions(i)]
        mutated = 0
        for i in victims:
            for r in rng.sample(range(2), rng.randint(1, 2)):
                mutated += 1
                rows[i][r] = (mutate_bytes(rng, rows[i][r]) if rng.random() < 0.6
                              else mutate_cells(rng, f"img/cat_{i:02d}.png", captions(i)[r], names))
        header, may_fail = b"file,caption,label", seed == 0
        if may_fail:  # one bad byte in the header: the whole file is unusable, one line says why
            header = b"file,caption,lab\xffel"
        leaks = [f"{name},a caption,cat".encode() for name in names]
        write_lines(rng, root / "labels.csv", [header] + [r for i in rows for r in rows[i]]
                    + leaks)
        expected = {f"img/cat_{i:02d}.png": captions(i) for i in range(IMAGES) if i not in victims}
        source = scanned("csv", root, expected, mutated + len(leaks), may_fail=may_fail)
        assert may_fail or count_reasons(source.skipped)[OUTSIDE.split(" (")[0]] >= len(names)


def coco_record(record: dict, bad: bytes | None = None) -> bytes:
    """A record as one JSON line; `bad` replaces the text BAD inside it (raw invalid bytes)."""
    line = json.dumps(record).encode()
    return line.replace(b"BAD", bad) if bad is not None else line


def test_fuzz_coco(tmp_path: Path) -> None:
    for seed in SEEDS:
        rng, root = random.Random(seed), tmp_path / f"coco-{seed}"
        names = outside_names(root)
        (root / "train2017").mkdir()
        (root / "annotations").mkdir()
        images, notes = [], []
        for i in range(IMAGES):
            (root / "train2017" / f"cat_{i:02d}.png").write_bytes(png(i))
            images.append({"id": i, "file_name": f"cat_{i:02d}.png"})
            notes += [{"id": 10 * i + n, "image_id": i, "caption": c}
                      for n, c in enumerate(captions(i))]
        image_lines = [coco_record(r) for r in images]
        note_lines = [coco_record(r) for r in notes]
        victims = rng.sample(range(IMAGES), 6)
        for i in victims:
            note = notes[2 * i]
            kind = rng.randrange(4)
            if kind == 0:
                note_lines[2 * i] = coco_record(dict(note, caption="a BAD cat"),
                                                rng.choice(BAD_UTF8 + [b"\x00", b"\t"]))
            elif kind == 1:
                note_lines[2 * i] = coco_record(dict(note, **{rng.choice(["caption", "image_id"]):
                                                             rng.choice(WRONG)}))
            elif kind == 2:
                image_lines[i] = coco_record(dict(images[i], **{rng.choice(["id", "file_name"]):
                                                               rng.choice(WRONG)}))
            else:
                image_lines[i] = coco_record(dict(images[i], file_name=rng.choice(names)))
        kept = [i for i in range(IMAGES) if i not in victims]
        copies = [coco_record(images[kept[0]]),  # the same id again
                  coco_record({"id": 77, "file_name": images[kept[1]]["file_name"]}),
                  coco_record(rng.choice(WRONG))]
        copies += [coco_record({"id": 100 + n, "file_name": name}) for n, name in enumerate(names)]
        note_lines += [coco_record({"id": 1000 + n, "image_id": n, "caption": "a caption"})
                       for n in [77, *range(100, 100 + len(names))]]
        data = (b'{"images": [\n' + b",\n".join(image_lines + copies) + b'],\n"annotations": [\n'
                + b",\n".join(note_lines) + b"\n]}\n")
        whole = seed % 4 == 3  # the whole file damaged: an error, or what still parses
        if whole:
            data = mutate_bytes(rng, data)
        if rng.random() < 0.3:
            data = b"\xef\xbb\xbf" + data
        (root / "annotations" / "captions_train2017.json").write_bytes(data)
        expected = {} if whole else {f"train2017/cat_{i:02d}.png": captions(i) for i in kept}
        scanned("coco", root, expected, len(victims) + len(copies) + whole, may_fail=whole)


def fuzz_caption_files(rng: random.Random, root: Path, text_dir: Path
                       ) -> tuple[dict[int, list[str]], int]:
    """Write image i's captions to text_dir/cat_<i>.txt, mutating 6 images' files; (kept
    captions, lines mutated)."""
    text_dir.mkdir(parents=True, exist_ok=True)
    (root / "img" / "cat_98.png").write_bytes(png(98))  # an image whose captions are elsewhere
    os.symlink(outside(root.parent) / "secret.txt", text_dir / "cat_98.txt")
    kept, mutated = {}, 1
    for i in range(IMAGES):
        file = text_dir / f"cat_{i:02d}.txt"
        lines = [c.encode() for c in captions(i)]
        if i % 10 < 6:
            kind = rng.randrange(4)
            if kind == 0:
                os.symlink(outside(root.parent) / "secret.txt", file)
            elif kind == 1:
                file.write_bytes(b"\xff\xfe" + b"\n".join(lines))  # UTF-16's BOM: not UTF-8
            else:
                lines[rng.randrange(2)] = mutate_bytes(rng, lines[0])
                write_lines(rng, file, lines)
            mutated += 1
        else:
            kept[i] = captions(i)
            write_lines(rng, file, lines)
    return kept, mutated


@pytest.mark.parametrize("fmt", ["cub", "txt"])
def test_fuzz_caption_files(tmp_path: Path, fmt: str) -> None:
    for seed in SEEDS:
        rng, root = random.Random(seed), tmp_path / f"{fmt}-{seed}"
        outside_names(root)  # img/link.png: an image symlinked out of the folder
        for i in range(IMAGES):
            (root / "img" / f"cat_{i:02d}.png").write_bytes(png(i))
        text_dir = root / "text_c10" / "001.Cat" if fmt == "cub" else root / "img"
        kept, mutated = fuzz_caption_files(rng, root, text_dir)
        source = scanned(fmt, root, {f"img/cat_{i:02d}.png": c for i, c in kept.items()},
                         mutated + 1)
        assert ("img/link.png", OUTSIDE) in {(s.name, s.reason) for s in source.skipped}


def test_fuzz_class_folders(tmp_path: Path) -> None:
    for seed in SEEDS:
        root = tmp_path / f"classes-{seed}"
        (root / "cat").mkdir(parents=True)
        for i in range(IMAGES):
            (root / "cat" / f"{i:02d}.png").write_bytes(png(i))
        os.symlink(outside(tmp_path), root / "evil")  # a class folder that is elsewhere
        os.symlink(outside(tmp_path) / "secret.png", root / "cat" / "link.png")
        (root / "cat" / "we\x1b[2Jird\n.png").write_bytes(png(3))  # a name that writes to a tty
        expected = {f"cat/{i:02d}.png": ["a photo of a cat"] for i in range(IMAGES)}
        source = scanned("class-folders", root, expected, 3)
        assert count_reasons(source.skipped) == {OUTSIDE.split(" (")[0]: 2}
        assert "cat/we\\x1b[2Jird\\n.png" in {e.name for e in source.entries}


def test_fuzz_lmdb_captions_files(tmp_path: Path) -> None:
    db = tmp_path / "outside-db" / "dogs_lmdb"
    write_lmdb(db, {b"d": png(1)})
    for seed in SEEDS:
        rng, root = random.Random(seed), tmp_path / f"lmdb-{seed}"
        write_lmdb(root / "cats_lmdb", {f"k{i:02d}".encode(): png(i) for i in range(IMAGES)})
        os.symlink(db, root / "dogs_lmdb")
        victims = rng.sample(range(IMAGES), 6)
        if seed % 2:  # JSONL
            records = [{"key": f"k{i:02d}", "captions": captions(i)} for i in range(IMAGES)]
            lines = [json.dumps(r).encode() for r in records]
            for i in victims:
                lines[i] = mutate(rng, lines[i], records[i], keys=["key", "captions"],
                                  caption_key="captions", name_key="key", names=["k99", "../x"])
            file = root / "caps.jsonl"
        else:  # CSV, one row per caption: a bad row costs its caption, the image keeps the other
            lines = [b"key,caption"] + [f"k{i:02d},{c}".encode() for i in range(IMAGES)
                                        for c in captions(i)]
            for i in victims:
                lines[1 + 2 * i] = mutate_bytes(rng, lines[1 + 2 * i])
            file = root / "caps.csv"
        write_lines(rng, file, lines)
        expected = {f"cats_lmdb/k{i:02d}": captions(i) for i in range(IMAGES) if i not in victims}
        source = scanned("lmdb", root, expected, len(victims),
                         SourceOptions(captions_file=file.name))
        assert ("dogs_lmdb", OUTSIDE) in {(s.name, s.reason) for s in source.skipped}


def tar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_fuzz_webdataset(tmp_path: Path) -> None:
    for seed in SEEDS:
        rng, root = random.Random(seed), tmp_path / f"wds-{seed}"
        root.mkdir()
        victims, members, mutated = set(rng.sample(range(IMAGES), 6)), [], 0
        for i in range(IMAGES):
            record = {"captions": captions(i), "label": "cat"}
            text = json.dumps(record).encode()
            if i in victims:
                mutated += 1
                kind = rng.randrange(4)
                if kind == 0:
                    members.append((f"{i:04d}.png", png(50 + i)))  # a second image first
                elif kind == 1:
                    members.append((f"{i:04d}.txt", mutate_bytes(rng, b"a cat\nanother cat")))
                text = mutate(rng, text, record, keys=["captions", "label"],
                              caption_key="captions", name_key="text", names=WRONG)
            members += [(f"{i:04d}.png", png(i)), (f"{i:04d}.json", text)]
        members += [("../../outside.png", png(7)), ("0003.seg.png", png(8))]
        (root / "a.tar").write_bytes(tar_bytes(members))
        whole = tar_bytes(members)  # a second shard, cut short: what came before the cut stays
        (root / "b.tar").write_bytes(whole[:rng.randrange(len(whole))])
        secret = outside(tmp_path) / "secret.tar"
        secret.write_bytes(tar_bytes([("s.png", png(9)), ("s.txt", b"the secret caption")]))
        os.symlink(secret, root / "c.tar")
        expected = {f"a.tar/{i:04d}": captions(i) for i in range(IMAGES) if i not in victims}
        scanned("webdataset", root, expected, mutated + 4)


def test_fuzzed_line_count(capsys: pytest.CaptureFixture) -> None:
    """Runs last (file order): the fuzzers above reached MIN_FUZZED_LINES without a traceback."""
    if len(FUZZED) < 9:
        pytest.skip("run the whole file to count every format's fuzzed lines")
    total = sum(FUZZED.values())
    with capsys.disabled():
        print(f"\n{total} fuzzed data lines, 0 tracebacks ({FUZZED})")
    assert total >= MIN_FUZZED_LINES
