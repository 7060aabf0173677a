"""The Optuna sweeper behind ``hydra/sweeper=optuna`` (conf/hydra/sweeper/optuna.yaml).

Hydra's own ``hydra-optuna-sweeper`` (1.3.0, the last) requires ``optuna<3``, and Optuna 2's
database storage does not work on SQLAlchemy 2 (it stamps its schema version on a connection
it never commits, then fails ``assert version is not None``): it cannot keep a study in a
database here. This sweeper takes the same configuration and the same override syntax
(``interval(1.0,3.0)``, ``tag(log,interval(...))``, ``range(1,5)``, ``choice(a,b)``) on a
current Optuna, and keeps the per-fold numbers each trial returns
(:class:`engine.backtest.tuning.Objective`) as the trial's user attrs.

Trials are asked in batches of ``n_jobs`` and run by the configured launcher (the basic one:
one after the other; ``hydra/launcher=joblib_local``: in parallel processes). The study is
created on first use and loaded after (``load_if_exists``): several processes, on one machine
or many, can each run ``n_trials`` more trials of one study in one storage.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    IntervalSweep,
    Override,
    RangeSweep,
    Transformer,
)
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)


def distribution(override: Override) -> BaseDistribution | None:
    """The search space of one sweep override; None for a fixed value."""
    if not override.is_sweep_override():
        return None
    value = override.value()
    if override.is_choice_sweep() or (
        override.is_range_sweep() and isinstance(value, RangeSweep) and value.shuffle
    ):
        return CategoricalDistribution(
            list(override.sweep_iterator(transformer=Transformer.encode))
        )
    if isinstance(value, RangeSweep):  # range() excludes its stop, Optuna's high is included
        start, stop, step = value.start, value.stop, value.step
        if any(isinstance(v, float) for v in (start, stop, step)):
            return FloatDistribution(start, stop - step, step=step)  # type: ignore[arg-type,operator]
        return IntDistribution(int(start), int(stop) - int(step), step=int(step))  # type: ignore[arg-type]
    if isinstance(value, IntervalSweep):  # Hydra's interval is always of floats: range() for ints
        low, high = float(value.start), float(value.end)  # type: ignore[arg-type]
        return FloatDistribution(low, high, log="log" in value.tags)
    raise ValueError(f"{override.input_line}: this sweep is not supported by the Optuna sweeper")


def search_space(arguments: Sequence[str]) -> tuple[dict[str, BaseDistribution], list[str]]:
    """The distributions of the sweep overrides, and the fixed overrides as given."""
    space: dict[str, BaseDistribution] = {}
    fixed: list[str] = []
    for override in OverridesParser.create().parse_overrides(list(arguments)):
        found = distribution(override)
        if found is None:
            fixed.append(override.input_line or f"{override.get_key_element()}={override.value()}")
        else:
            space[override.get_key_element()] = found
    return space, fixed


def storage_of(url: str | None, ledger_url: str | None) -> optuna.storages.BaseStorage | None:
    """Optuna's storage at ``url`` (None: in memory). A SQLite file's folder is created and
    its writers wait for each other; the ledger's own database is refused (Optuna keeps its own
    ``alembic_version`` table, which would clash with the ledger's migrations)."""
    if url is None:
        return None
    parsed = make_url(url)
    if ledger_url is not None and parsed == make_url(ledger_url):
        raise ValueError(
            f"hydra.sweeper.storage={url} is the ledger's database (db.url): give Optuna a "
            "database of its own (a SQLite file, or another database on the same PostgreSQL "
            "server), its alembic_version table would clash with the ledger's migrations"
        )
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 60}
    else:
        kwargs["pool_pre_ping"] = True
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


class OptunaSweep:
    """The sweep itself (the Hydra plugin class only holds one of these)."""

    def __init__(
        self,
        *,
        sampler: Any,
        direction: str,
        storage: str | None,
        study_name: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        params: Mapping[str, Any] | None,
    ) -> None:
        if n_trials < 1 or n_jobs < 1:
            raise ValueError(f"n_trials={n_trials} and n_jobs={n_jobs} must be >= 1")
        if not 0.0 <= max_failure_rate <= 1.0:
            raise ValueError(f"max_failure_rate={max_failure_rate} must be in [0, 1]")
        self.sampler = sampler
        self.direction = direction
        self.storage = storage
        self.study_name = study_name
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.max_failure_rate = max_failure_rate
        self.params = dict(params or {})
        self.job_idx = 0

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )
        self.sweep_dir = Path(config.hydra.sweep.dir)

    def sweep(self, arguments: list[str]) -> None:
        space, fixed = search_space([f"{k}={v}" for k, v in self.params.items()] + arguments)
        if not space:
            raise ValueError(
                "nothing to tune: give at least one sweep, e.g. "
                "'strategies.updown.gates.sigma.min_sigma=interval(1.0,3.0)'"
            )
        study = optuna.create_study(
            study_name=self.study_name,
            storage=storage_of(self.storage, OmegaConf.select(self.config, "db.url")),
            sampler=self.sampler,
            direction=self.direction,
            load_if_exists=True,
        )
        log.info(
            "study %r in %s (%s, %s): %d trials over %s",
            study.study_name,
            self.storage or "memory",
            type(self.sampler).__name__,
            self.direction,
            self.n_trials,
            ", ".join(space),
        )
        to_go = self.n_trials
        while to_go > 0:
            batch = [study.ask(fixed_distributions=space) for _ in range(min(self.n_jobs, to_go))]
            jobs = [(*(f"{k}={v}" for k, v in t.params.items()), *fixed) for t in batch]
            returns = self.launcher.launch(jobs, initial_job_idx=self.job_idx)
            self.job_idx += len(returns)
            failures = [e for t, r in zip(batch, returns, strict=True) if (e := tell(study, t, r))]
            if len(failures) / len(batch) > self.max_failure_rate:
                log.error("%d of %d trials failed (max_failure_rate %g)", len(failures),
                          len(batch), self.max_failure_rate)  # fmt: skip
                raise failures[0]
            to_go -= len(batch)
        self._report(study)

    def _report(self, study: optuna.Study) -> None:
        done = [t for t in study.trials if t.state == TrialState.COMPLETE]
        if not done:
            log.warning("study %r has no completed trial", study.study_name)
            return
        best = study.best_trial
        log.info("best trial %d: objective %+.4f with %s (`edgeloop-tune show --study %s`)",
                 best.number, best.value, best.params, study.study_name)  # fmt: skip
        results = {"name": "optuna", "study": study.study_name, "best_trial": best.number,
                   "best_params": best.params, "best_value": best.value}  # fmt: skip
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(OmegaConf.create(results), self.sweep_dir / "optimization_results.yaml")


def tell(study: optuna.Study, trial: optuna.Trial, ret: JobReturn) -> Exception | None:
    """Record one job's result on its trial; the error when it failed."""
    try:
        value = ret.return_value  # raises the job's own error when it failed
    except Exception as exc:  # noqa: BLE001 - whatever the job raised fails its trial only
        return _failed(study, trial, exc)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return _failed(study, trial, ValueError(f"the task returned {value!r}, not a number"))
    if not math.isfinite(number):
        return _failed(study, trial, ValueError(f"the task returned {number}, not finite"))
    for key, attr in getattr(value, "attrs", {}).items():
        trial.set_user_attr(key, attr)
    study.tell(trial, number)
    return None


def _failed(study: optuna.Study, trial: optuna.Trial, error: Exception) -> Exception:
    log.warning("trial %d failed: %s", trial.number, error)
    study.tell(trial, state=TrialState.FAIL)
    return error
