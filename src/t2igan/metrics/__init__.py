"""The field's metrics, one file each; `registry.METRICS` names them for `t2igan evaluate`."""
