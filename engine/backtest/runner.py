"""A run in-process: ``conf/`` composed with overrides, then :func:`engine.app.run`.

The same composition ``edgeloop mode=backtest ...`` makes on the command line, without a
subprocess per run (the tools here run several backtests of one corpus).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from engine import app
from engine.app import CONF_DIR


class OverrideError(ValueError):
    """The overrides do not compose (an unknown key, a bad value, a malformed override)."""


def compose_config(overrides: Sequence[str]) -> DictConfig:
    """``conf/config.yaml`` with ``overrides`` (Hydra's own syntax, applied in order)."""
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name="config", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as exc:
        raise OverrideError(" ".join(str(exc).split())) from None


def backtest_overrides(corpus: str, db_url: str, *, end: int | None = None) -> list[str]:
    """The overrides of a quiet backtest of ``corpus`` into ``db_url`` (ending at ``end``)."""
    out = ["mode=backtest", f"backtest.corpus={corpus}", f"db.url={db_url}", "run.progress=false"]
    if end is not None:
        out.append(f"backtest.end={int(end)}")
    return out


def run_quiet(cfg: DictConfig) -> int:
    """:func:`engine.app.run` on ``cfg`` (a backtest, or any run) with the ledger table it
    prints swallowed; its exit code (0 done, 2 a configuration error, others:
    ``docs/operations.md``)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return app.run(cfg)
