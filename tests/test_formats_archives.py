import io
import json
import pickle
import tarfile
from pathlib import Path

import lmdb
import numpy as np
import torch
from PIL import Image

from t2igan.data.dataset import CaptionedImages
from t2igan.data.formats.webdataset_tar import pack
from t2igan.data.sources import Source, SourceOptions, count_reasons, open_source

# fixtures are made at the size they are read at, so decoding keeps their exact pixels
SIZE = (16, 12)


def pixels(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8)


def encode(seed: int, kind: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels(seed)).save(buffer, kind)
    return buffer.getvalue()


def write_lmdb(folder: Path, items: dict[bytes, bytes]) -> None:
    folder.mkdir(parents=True)
    env = lmdb.open(str(folder), map_size=1 << 22)
    with env.begin(write=True) as txn:
        for key, value in items.items():
            txn.put(key, value)
    env.close()


def write_tar(file: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(file, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def by_name(source: Source) -> dict[str, tuple[list[str], dict]]:
    return {e.name: (e.captions, e.extras) for e in source.entries}


def reasons(source: Source) -> dict[str, str]:
    return {s.name: s.reason for s in source.skipped}


def assert_pixels(source: Source, seeds: dict[str, int]) -> None:
    """Every named entry decodes to exactly the pixels its fixture was made from."""
    dataset = CaptionedImages(source, SIZE)
    for index, entry in enumerate(source.entries):
        if entry.name in seeds:
            assert torch.equal(dataset[index][0],
                               torch.from_numpy(pixels(seeds[entry.name])).permute(2, 0, 1))


def test_lmdb_categories_get_template_captions(tmp_path: Path) -> None:
    """Each database is a category named by its folder; the reader survives pickling (loader
    workers)."""
    write_lmdb(tmp_path / "cat_train_lmdb", {b"c1": encode(1), b"c2": encode(2)})
    write_lmdb(tmp_path / "car_val_lmdb", {b"v1": encode(3)})
    source = open_source(tmp_path)
    assert source.format == "lmdb" and not source.skipped
    assert by_name(source) == {"car_val_lmdb/v1": (["a photo of a car"], {"label": "car"}),
                               "cat_train_lmdb/c1": (["a photo of a cat"], {"label": "cat"}),
                               "cat_train_lmdb/c2": (["a photo of a cat"], {"label": "cat"})}
    assert_pixels(source, {"car_val_lmdb/v1": 3, "cat_train_lmdb/c1": 1, "cat_train_lmdb/c2": 2})
    read = pickle.loads(pickle.dumps(source.read))
    assert read(source.entries[0].ref) == encode(3)
    single = open_source(tmp_path / "cat_train_lmdb",
                         SourceOptions(caption_template="{label} on a sofa"))
    assert [e.captions for e in single.entries] == [["cat on a sofa"]] * 2


def test_lmdb_captions_file_csv_and_jsonl(tmp_path: Path) -> None:
    """Captions by key, several per key; keys without captions and captions without keys are
    reported."""
    write_lmdb(tmp_path / "db" / "things_lmdb",
               {b"k1": encode(1), b"k2": encode(2), b"k3": encode(3)})
    (tmp_path / "caps.csv").write_text("key,caption\nk1,a red car\nk1,a car painted red\n"
                                       "k2,a blue van\nk9,lost\n")
    source = open_source(tmp_path / "db", SourceOptions(captions_file=str(tmp_path / "caps.csv")))
    assert by_name(source) == {"things_lmdb/k1": (["a red car", "a car painted red"],
                                                  {"label": "things"}),
                               "things_lmdb/k2": (["a blue van"], {"label": "things"})}
    assert reasons(source) == {"things_lmdb/k3": "no caption", "k9": "caption with no image"}
    lines = [{"key": "k1", "captions": ["a red car", " "]},
             {"key": "things_lmdb/k3", "text": "a green bus"}]
    (tmp_path / "db" / "caps.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\nnot json\n")
    # found beside the databases
    source = open_source(tmp_path / "db", SourceOptions(captions_file="caps.jsonl"))
    assert {n: c for n, (c, _) in by_name(source).items()} == {"things_lmdb/k1": ["a red car"],
                                                               "things_lmdb/k3": ["a green bus"]}
    assert count_reasons(source.skipped) == {"no caption": 1, "bad manifest line": 1}


def write_metadata_folder(folder: Path) -> None:
    """A metadata.jsonl source with good PNG/JPEG images, garbage, a truncated PNG and a file that
    vanishes."""
    folder.mkdir()
    files = {"a.png": encode(1), "b.jpg": encode(2, "JPEG"), "c.png": b"not an image at all",
             "d.png": encode(4)[:60], "e.png": encode(5)}
    rows = []
    for index, (name, data) in enumerate(files.items()):
        (folder / name).write_bytes(data)
        rows.append({"file_name": name, "text": [f"caption {index}", f"other {index}"],
                     "label": f"L{index}"})
    (folder / "metadata.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n")


def test_pack_round_trips_bytes_and_reports_bad_images(tmp_path: Path) -> None:
    """pack keeps the original bytes; scanning its shards gives the same captions and extras
    back."""
    write_metadata_folder(tmp_path / "src")
    source = open_source(tmp_path / "src")
    (tmp_path / "src" / "e.png").unlink()  # vanished between scan and pack
    out = tmp_path / "shards"
    out.mkdir()
    (out / "shard-000007.tar").write_bytes(b"left from an earlier, larger pack")
    (out / ".t2igan-made-by").write_text("data pack\n")
    result = pack(source, out, shard_size=1, progress=False)
    assert (result["shards"], result["images"]) == (2, 2)
    assert [s.name for s in result["skipped"]] == ["c.png", "d.png", "e.png"]
    assert count_reasons(result["skipped"]) == {"not an image": 1, "corrupt or truncated": 1,
                                                "unreadable file": 1}
    assert sorted(p.name for p in out.glob("shard-*")) == ["shard-000000.tar", "shard-000001.tar"]
    with tarfile.open(out / "shard-000001.tar") as tar:
        # the real format names the member
        assert tar.getnames() == ["00000001.jpg", "00000001.json"]
    packed = open_source(out)
    assert packed.format == "webdataset" and not packed.skipped
    assert [(e.captions, e.extras) for e in packed.entries] == [(e.captions, e.extras)
                                                                for e in source.entries[:2]]
    assert [packed.read(e.ref) for e in packed.entries] == [encode(1), encode(2, "JPEG")]
    assert_pixels(packed, {"shard-000000.tar/00000000": 1})
    assert pickle.loads(pickle.dumps(packed.read))(packed.entries[0].ref) == encode(1)
    one = open_source(out / "shard-000001.tar")  # --data may name a single shard
    assert [e.name for e in one.entries] == ["shard-000001.tar/00000001"]


def test_webdataset_scan_groups_members_by_key(tmp_path: Path) -> None:
    """Keys keep their folder (dots in folders included); json, txt, caption and cls members
    combine."""
    write_tar(tmp_path / "s.tar", {
        "x/a.b/0001.png": encode(1), "x/a.b/0001.txt": b"a red car\n\na car in red\n",
        "0002.png": encode(2),
        "0002.json": json.dumps({"text": "a dog", "label": "dog", "size": 3}).encode(),
        "0003.png": encode(3), "0004.txt": b"an orphan caption", "0005.mp4": b"...",
        "0005.txt": b"a clip", "0006.png": encode(6), "0006.json": b"{bad",
        "0007.webp": encode(7, "WEBP"), "0007.cls": b"3", "0007.caption": b"seven",
        "0008.mp4": b"..."})
    source = open_source(tmp_path)
    assert source.format == "webdataset"
    assert by_name(source) == {"s.tar/x/a.b/0001": (["a red car", "a car in red"], {}),
                               "s.tar/0002": (["a dog"], {"label": "dog", "size": 3}),
                               "s.tar/0007": (["seven"], {"label": 3})}
    found = reasons(source)
    assert found.pop("s.tar/0006.json").startswith("bad manifest line (")
    assert found == {"s.tar/0003": "no caption", "s.tar/0004": "caption with no image",
                     "s.tar/0005": "caption with no image", "s.tar/0006": "no caption",
                     "s.tar/0008": "not an image file type (.mp4)"}
    assert_pixels(source, {"s.tar/x/a.b/0001": 1, "s.tar/0002": 2})


def write_coco(root: Path, split: str, images: dict[int, str],
               annotations: list[tuple[int, str]]) -> None:
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    data = {"images": [{"id": i, "file_name": f} for i, f in images.items()],
            "annotations": [{"id": n, "image_id": i, "caption": c}
                            for n, (i, c) in enumerate(annotations)]}
    (root / "annotations" / f"captions_{split}.json").write_text(json.dumps(data))


def test_coco_captions_skips_and_keep_words(tmp_path: Path) -> None:
    """Images found under <split>/; --keep-words selects whole words without reporting the rest."""
    (tmp_path / "train2017").mkdir()
    (tmp_path / "val2017").mkdir()
    for seed in (1, 2, 3):
        (tmp_path / "train2017" / f"{seed:06d}.png").write_bytes(encode(seed))
    (tmp_path / "val2017" / "000010.png").write_bytes(encode(10))
    write_coco(tmp_path, "train2017",
               {1: "000001.png", 2: "000002.png", 3: "000003.png", 4: "000004.png"},
               [(1, "A cat sits on a mat."), (1, "a kitten"), (2, "A catalog of chairs"),
                (4, "a dog"), (99, "a dog")])
    write_coco(tmp_path, "val2017", {10: "000010.png"}, [(10, "a Teddy-bear on a bed")])
    source = open_source(tmp_path)
    assert source.format == "coco"
    assert by_name(source) == {"train2017/000001.png": (["A cat sits on a mat.", "a kitten"],
                                                        {"coco_id": 1}),
                               "train2017/000002.png": (["A catalog of chairs"], {"coco_id": 2}),
                               "val2017/000010.png": (["a Teddy-bear on a bed"], {"coco_id": 10})}
    assert reasons(source) == {"000003.png": "no caption", "000004.png": "caption with no image",
                               "captions_train2017.json image_id 99": "caption with no image"}
    assert_pixels(source, {"train2017/000001.png": 1, "val2017/000010.png": 10})
    kept = open_source(tmp_path, SourceOptions(keep_words="Cat, teddy bear"))
    assert [e.name for e in kept.entries] == ["train2017/000001.png", "val2017/000010.png"]
    assert reasons(kept) == {"000003.png": "no caption"}  # the dogs were not selected, not skipped
    one = open_source(tmp_path / "annotations" / "captions_val2017.json")
    assert [e.name for e in one.entries] == ["val2017/000010.png"]


def test_cub_and_oxford_layouts(tmp_path: Path) -> None:
    """Captions matched by stem; the class folder is the label; masks in segmentations/ are left
    out."""
    birds, text = tmp_path / "birds", tmp_path / "birds" / "text_c10"
    (text / "001.Black_footed_Albatross").mkdir(parents=True)
    (text / "002.Laysan_Albatross").mkdir()
    (text / "001.Black_footed_Albatross" / "BFA_0001.txt").write_text("a dark bird\n"
                                                                      "a bird with long wings\n")
    (text / "002.Laysan_Albatross" / "LA_0002.txt").write_text("a white bird\n")
    images = birds / "CUB_200_2011" / "images" / "001.Black_footed_Albatross"
    masks = birds / "CUB_200_2011" / "segmentations" / "001.Black_footed_Albatross"
    for folder in (images, masks):
        folder.mkdir(parents=True)
    (images / "BFA_0001.png").write_bytes(encode(1))
    (images / "BFA_0003.png").write_bytes(encode(3))
    (masks / "BFA_0001.png").write_bytes(encode(9))
    source = open_source(birds)
    assert source.format == "cub"
    name = "CUB_200_2011/images/001.Black_footed_Albatross/BFA_0001.png"
    assert by_name(source) == {name: (["a dark bird", "a bird with long wings"],
                                      {"label": "Black footed Albatross"})}
    assert count_reasons(source.skipped) == {"no caption": 1, "caption with no image": 1}
    assert reasons(source)["text_c10/002.Laysan_Albatross/LA_0002.txt"] == "caption with no image"
    assert_pixels(source, {name: 1})
    flowers = tmp_path / "flowers"
    (flowers / "text_c10" / "class_00001").mkdir(parents=True)
    (flowers / "jpg").mkdir()
    (flowers / "jpg" / "image_00001.png").write_bytes(encode(5))
    (flowers / "text_c10" / "class_00001" / "image_00001.txt").write_text("a pink flower\n")
    assert by_name(open_source(flowers)) == {"jpg/image_00001.png": (["a pink flower"],
                                                                     {"label": "class_00001"})}


def test_same_content_reads_the_same_in_every_format(tmp_path: Path) -> None:
    """LMDB, its packed shards, COCO and CUB copies of three images give the same pixels and
    captions."""
    seeds = (11, 12, 13)
    captions = {seed: [f"bird number {seed}", f"a small bird {seed}"] for seed in seeds}
    write_lmdb(tmp_path / "lmdb" / "bird_lmdb", {str(s).encode(): encode(s) for s in seeds})
    lines = [json.dumps({"key": str(s), "captions": captions[s]}) for s in seeds]
    # not "captions.jsonl": beside the databases that name would be detected as a captioned folder
    (tmp_path / "lmdb" / "keys.jsonl").write_text("\n".join(lines))
    lmdb_source = open_source(tmp_path / "lmdb", SourceOptions(captions_file="keys.jsonl"))
    pack(lmdb_source, tmp_path / "wds", progress=False)
    (tmp_path / "coco" / "train2017").mkdir(parents=True)
    (tmp_path / "cub" / "text_c10" / "001.Bird").mkdir(parents=True)
    (tmp_path / "cub" / "images").mkdir()
    for s in seeds:
        (tmp_path / "coco" / "train2017" / f"{s:012d}.png").write_bytes(encode(s))
        (tmp_path / "cub" / "images" / f"bird_{s}.png").write_bytes(encode(s))
        (tmp_path / "cub" / "text_c10" / "001.Bird" / f"bird_{s}.txt").write_text(
            "\n".join(captions[s]))
    write_coco(tmp_path / "coco", "train2017", {s: f"{s:012d}.png" for s in seeds},
               [(s, c) for s in seeds for c in captions[s]])
    expected = sorted((captions[s], pixels(s).tobytes()) for s in seeds)
    for folder, fmt in (("lmdb", "lmdb"), ("wds", "webdataset"), ("coco", "coco"), ("cub", "cub")):
        options = SourceOptions(captions_file="keys.jsonl") if fmt == "lmdb" else None
        source = open_source(tmp_path / folder, options)
        assert source.format == fmt and not source.skipped
        dataset = CaptionedImages(source, SIZE)
        got = sorted((dataset[i][1], dataset[i][0].permute(1, 2, 0).numpy().tobytes())
                     for i in range(len(dataset)))
        assert got == expected, fmt
