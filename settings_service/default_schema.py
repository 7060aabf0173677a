"""The schema of the configuration in ``conf/``: what the standalone CLI validates against.

``default_schema()`` composes the Hydra config (``$EDGELOOP_CONF_DIR``, else
the ``conf/`` beside this package) with no overrides and builds its schema with
:func:`settings_service.components.schema_for_config`; without a ``conf/`` it
holds the global protected keys only. The engine builds the schema of the
configuration it actually runs with in the same way.

Who may change what: the calibrator only tightens gates; the governor retunes
gates, sizers and timing; the bankroll, the venue's minimums and the protected
keys (mode, kill switch, entries paused, strategy enable flags) are a human's.
"""

from __future__ import annotations

from functools import cache

from settings_service.components import GLOBAL, RETIRED, schema_for_config
from settings_service.schema import Schema


@cache
def _composed() -> dict | None:
    from settings_service.resolve import default_conf_dir

    conf_dir = default_conf_dir()
    if conf_dir is None:
        return None
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
        cfg = compose(config_name="config")
    return OmegaConf.to_container(cfg, resolve=False)  # type: ignore[return-value]


def default_schema() -> Schema:
    """A fresh schema of the composed ``conf/`` (callers may register more on it)."""
    composed = _composed()
    if composed is None:
        return Schema.of(GLOBAL, retired=RETIRED)
    return schema_for_config(composed)
