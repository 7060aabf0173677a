"""The versioned settings store (see the settings-service issue).

Today the engine's configuration has two layers, both Hydra: the config
defaults in ``conf/`` and the run's command-line overrides. This package will
add the third layer (versioned settings rows in the database, hot-reloaded)
and must never import ``engine``.
"""

LAYERS = ("hydra defaults", "run overrides")
