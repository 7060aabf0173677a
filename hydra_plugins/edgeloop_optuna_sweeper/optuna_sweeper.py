"""The Hydra plugin of ``hydra/sweeper=optuna``: a thin shell over
:class:`engine.backtest.sweeper.OptunaSweep`.

Hydra finds plugins only under the ``hydra_plugins`` namespace, and imports every one at each
start: Optuna is imported when a sweep is set up, not here.
"""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class OptunaSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        from engine.backtest.sweeper import OptunaSweep

        self.sweep_impl = OptunaSweep(**settings)

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.sweep_impl.setup(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> None:
        self.sweep_impl.sweep(arguments)
