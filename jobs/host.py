"""The scheduler host: embedded in the app server process or standalone (``python -m jobs``).

APScheduler 3.x with a SQLAlchemy job store on ``DATABASE_URL``. Both kinds of
host obey the same toggle in the store, and the trading tick only trades while
this host holds the account's lease (see :mod:`core.trading.lease`).
"""

from __future__ import annotations

import logging
import threading

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from core.services import Context, get_context

log = logging.getLogger("jobs")
JOB_TABLE = "apscheduler_jobs"


class SchedulerHost:
    """Own one BackgroundScheduler; start it once per process."""

    def __init__(self, ctx: Context | None = None, tick_seconds: float | None = None) -> None:
        self.ctx = ctx or get_context()
        self.tick_seconds = tick_seconds or self.ctx.settings.scheduler.tick_seconds
        self.scheduler: BackgroundScheduler | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Return True while the scheduler thread runs."""
        return self.scheduler is not None and self.scheduler.running

    def start(self) -> None:
        """Start the scheduler and (re)register the jobs; a second call does nothing."""
        with self._lock:
            if self.running:
                return
            sched = BackgroundScheduler(
                jobstores={"default": SQLAlchemyJobStore(url=self.ctx.settings.database_url, tablename=JOB_TABLE)},
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
                timezone="UTC",
            )
            s = self.ctx.settings.scheduler
            sched.add_job("jobs.tasks:trading_tick", "interval", seconds=self.tick_seconds, id="trading_tick", replace_existing=True)
            sched.add_job("jobs.tasks:equity_snapshot", "interval", seconds=max(self.tick_seconds, 60), id="equity_snapshot", replace_existing=True)
            sched.add_job("jobs.tasks:collect_news", "interval", minutes=s.news_minutes, id="collect_news", replace_existing=True)
            sched.add_job("jobs.tasks:model_health", "interval", minutes=self.ctx.settings.models.drift.check_minutes, id="model_health",
                          replace_existing=True)
            sched.add_job("jobs.tasks:retrain", "cron", hour=s.retrain_hour_utc, minute=0, id="retrain", replace_existing=True)
            sched.start()
            self.scheduler = sched
            log.info("scheduler started (tick every %.1f s)", self.tick_seconds)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the scheduler (waits for a running job to finish when ``wait``)."""
        with self._lock:
            if self.scheduler is not None and self.scheduler.running:
                self.scheduler.shutdown(wait=wait)
            self.scheduler = None

    def jobs(self) -> list[dict]:
        """Return the registered jobs with their next run times."""
        if not self.running:
            return []
        return [{"id": j.id, "next_run": j.next_run_time.isoformat() if j.next_run_time else None} for j in self.scheduler.get_jobs()]
