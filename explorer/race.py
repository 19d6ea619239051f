"""Several training runs from one initialization, advanced together in bounded chunks.

A live page keeps a `Race` per session and iterates `live_ticks`, which advances it for part of
each redraw interval and sleeps the rest; the runs are `explorer.training.train` generators, and
nothing here draws. Every advance is a unit of heavy work under an `explorer.budget.Budget`
(CPU seconds, cancel checks, the server-wide slots), and a race's advances together spend at
most its `total_s` of CPU.
"""

import copy
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from explorer import budget as budgets
from explorer.budget import Budget, Cut
from explorer.models import theta_labels
from explorer.optimizers import optimizer_text
from explorer.training import StepRecord, TrainConfig, build, history_frame, train

THETA_BUDGET = 2_000_000  # parameter values a race keeps (16 MB); beyond, records are thinned
COLUMNS = ["step", "loss", "grad_norm", "elapsed_s", "stop"]


def run_name(config: TrainConfig) -> str:
    """A run's label in legends: "optimizer · loss", the optimizer's parameters that differ
    from its defaults after its name ("adam betas=0.5/0.999 · mse")."""
    return f"{optimizer_text(config.optimizer, config.optimizer_params)} · {config.loss}"


def race_configs(
    base: TrainConfig,
    optimizers=(),
    losses=(),
    loss_params: dict | None = None,
    optimizer_params: dict | None = None,
) -> dict[str, TrainConfig]:
    """{name: config}: base first, then base with each other optimizer, then with each other loss.

    Every config keeps base's seed and schedule, so every run starts from the same data and
    parameters. Raced losses use `loss_params[loss]` if given, else their defaults; raced
    optimizers `optimizer_params[optimizer]` if given, else theirs (raced losses keep base's).
    """
    loss_params, optimizer_params = loss_params or {}, optimizer_params or {}
    configs = [base.validate()]
    configs += [
        replace(base, optimizer=o, optimizer_params=dict(optimizer_params.get(o, {})))
        for o in optimizers
        if o != base.optimizer
    ]
    configs += [
        replace(base, loss=k, loss_params=dict(loss_params.get(k, {})))
        for k in losses
        if k != base.loss
    ]
    out: dict[str, TrainConfig] = {}
    for cfg in configs:
        cfg = cfg.validate()
        out.setdefault(run_name(cfg), cfg)
    return out


@dataclass
class Run:
    """One run of a race: its live generator, every step's numbers, and records every `stride` steps."""

    config: TrainConfig
    stride: int = 1  # keep the full record (with theta) of every stride-th step, and the last
    records: list[StepRecord] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)  # (step, loss, grad_norm, elapsed_s, stop)
    done: bool = False

    def __post_init__(self):
        problem = build(self.config)  # once: the generator trains its model in place
        self.dataset, self.model = problem.dataset, copy.deepcopy(problem.model)  # for pictures
        self.labels = theta_labels(self.model)
        self._steps = train(problem)

    def step(self) -> None:
        """Take one record from the generator; mark the run done when it ends or stops."""
        record = next(self._steps, None)
        self.done = record is None or record.stop is not None or record.step >= self.config.steps
        if record is None:
            return
        self.rows.append(
            (record.step, record.loss, record.grad_norm, record.elapsed_s, record.stop)
        )
        if self.done or record.step % self.stride == 0:
            self.records.append(record)

    @property
    def stop(self) -> str | None:
        """Why the run ended early (e.g. "diverged: ..."), else None."""
        return self.rows[-1][4] if self.rows else None

    def path(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps (T,), theta (T, P)) of the kept records: the input of plots.param_path."""
        if not self.records:
            return np.zeros(0), np.zeros((0, len(self.labels)))
        return np.array([r.step for r in self.records]), np.stack([r.theta for r in self.records])

    def history(self) -> pd.DataFrame:
        """Every step's numbers; with a theta column per parameter when every record is kept."""
        if self.stride == 1:
            return history_frame(self.records, self.labels)
        return pd.DataFrame(self.rows, columns=COLUMNS)


class Race:
    """Runs advanced in lock-step: one step of each, round after round, until a budget is spent.

    total_s: the CPU seconds all its advances together may spend (default explorer.budget's
    RACE_S); once spent, advance takes no more steps and `cut` is "race".
    """

    def __init__(self, configs: dict[str, TrainConfig], total_s: float | None = None):
        if not configs:
            raise ValueError("a race needs at least one config")
        self.configs = {name: cfg.validate() for name, cfg in configs.items()}
        self.runs = {name: Run(cfg) for name, cfg in self.configs.items()}
        size = len(next(iter(self.runs.values())).labels)
        kept = sum(size * (cfg.steps + 1) for cfg in self.configs.values())
        for run in self.runs.values():
            run.stride = max(1, math.ceil(kept / THETA_BUDGET))
        self.total_s = budgets.RACE_S if total_s is None else total_s
        self.spent_s = 0.0  # CPU seconds its advances have spent
        self.cut: str | None = None  # why the latest advance ended before the race (see why)
        self.why = ""  # that reason as a clause ("this run's time budget of 5 s ... is spent")
        self._lock = threading.Lock()  # one advance at a time: runs are generators

    def advance(
        self,
        budget_s: float | None = None,
        max_rounds: int | None = None,
        clock=time.thread_time,
        wall_cap: float = 10.0,
        budget: Budget | None = None,
    ) -> bool:
        """Step every unfinished run, round after round, until done, the budget or max_rounds.

        The budget is CPU time of the calling thread (`clock`), not wall time: on a server
        shared by many sessions a wall-time budget buys a few steps a redraw, so training slows
        to a crawl while the redraws (a fixed cost per tick) take the CPU. A CPU budget buys
        the same steps however busy the server is. Wall time is still capped at `wall_cap` x
        budget, for work the clock does not see (other threads, a GPU). `budget`, if given,
        replaces budget_s, clock and wall_cap, and adds its cancel check and slots.

        At least one round is taken, unless the work is cancelled, the process is exiting, no
        slot came free or the race's total_s is spent; `cut` then says which ("cancelled",
        "shutdown", "busy", "race"; "budget" when the budget ended it; None when the race is
        done or max_rounds ended it). A cancel check that raises ends the advance between two
        rounds, with every run intact. Returns True while some run is still unfinished. Calls
        from several threads (an old script run still finishing its tick beside a new one)
        take turns.
        """
        if budget is None:
            budget = Budget(budget_s, clock=clock, wall_cap=wall_cap)
        with self._lock:
            try:
                with budget:
                    self._advance(budget, max_rounds)
            except Cut:  # before the first round: cancelled, exiting or no free slot
                pass
            self.cut = None if self.done else budget.cut
            self.why = self._why(budget)
            return not self.done

    def _advance(self, budget: Budget, max_rounds: int | None) -> None:
        rounds, spent = 0, self.spent_s
        try:
            while not self.done:
                if spent + budget.used_s >= self.total_s:
                    budget.cut = "race"
                    break
                for run in self.runs.values():
                    if not run.done:
                        run.step()
                rounds += 1
                if max_rounds is not None and rounds >= max_rounds:
                    break
                if budget.over():
                    break
        finally:
            self.spent_s = spent + budget.spent()

    def _why(self, budget: Budget) -> str:
        if self.cut == "race":
            return f"this race's total budget of {self.total_s:g} s of CPU is spent"
        return budget.why(self.cut) if self.cut else ""

    def cut_text(self) -> str | None:
        """ "Stopped at step N of M: <why>" after an advance that a budget or a check ended."""
        if self.cut is None:
            return None
        steps = max(cfg.steps for cfg in self.configs.values())
        return f"Stopped at step {self.step} of {steps}: {self.why}."

    @property
    def done(self) -> bool:
        return all(run.done for run in self.runs.values())

    @property
    def progress(self) -> float:
        """Fraction of the work done: a finished (or stopped) run counts as complete."""
        parts = [
            1.0 if r.done else r.rows[-1][0] / r.config.steps if r.rows else 0.0
            for r in self.runs.values()
        ]
        return sum(parts) / len(parts)

    @property
    def step(self) -> int:
        """The furthest step any run has reached."""
        return max((r.rows[-1][0] for r in self.runs.values() if r.rows), default=0)

    def status(self, running: bool) -> str:
        """ "running", "done", "stopped" (ended before its last step) or "ready" (at step 0)."""
        return (
            "running" if running else "done" if self.done else "stopped" if self.step else "ready"
        )

    def progress_text(self, running: bool) -> str:
        steps = max(cfg.steps for cfg in self.configs.values())
        return f"step {self.step} of {steps} · {self.status(running)}"

    def handover(self) -> dict:
        """The main (first) run's config and records so far, for other pages to read."""
        main = next(iter(self.runs.values()))
        return {"config": main.config, "records": list(main.records)}

    def histories(self) -> dict[str, pd.DataFrame]:
        """{run name: Run.history()} so far."""
        return {name: run.history() for name, run in self.runs.items()}

    def history_table(self) -> pd.DataFrame:
        """All runs' histories in one table with a leading `run` column."""
        parts = [df.assign(run=n) for n, df in self.histories().items()]
        df = pd.concat(parts, ignore_index=True)
        return df[["run", *[c for c in df.columns if c != "run"]]]


REDRAWS = (0.2, 0.3, 0.5, 1.0, 2.0)  # seconds between live redraws a page may offer
WORK = 0.5  # share of each redraw interval spent training


def live_ticks(
    race: Race,
    every: float,
    current: Callable[[], bool] = lambda: True,
    sleep: Callable[[float], None] = budgets.nap,
    slots: budgets.Slots | None = budgets.HEAVY,
) -> Iterator[int]:
    """The pacing of a live page: advance `race` for WORK·every of CPU time, yield the tick
    number (the caller redraws), sleep the rest of the interval, again.

    Each tick's advance is a unit of heavy work: it takes one of `slots` (waiting its turn: on a
    crowded server redraws slow down, but every session trains) and asks its thread's cancel
    check.
    Ends after the tick on which the race is done, its total budget is spent or the work was
    cancelled, or after a sleep once `current()` is False (a newer script run has taken the
    race over: this one must not train beside it).
    """
    tick = 0
    while True:
        race.advance(budget=Budget(WORK * every, slots=slots))  # waits its turn (FIFO)
        yield tick
        if race.done or race.cut == "race" or race.cut in budgets.FINAL:
            return
        tick += 1
        sleep((1 - WORK) * every)
        if not current():
            return
