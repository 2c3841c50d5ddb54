"""One module per on-disk dataset layout; each has detect(path) and scan(path, options) -> Source.

The registry and the shared types are in t2igan.data.sources; the README's "Your own data"
section shows each layout.
"""
