"""The scheduler host: embedded in the app server process or standalone (``python -m jobs``).

APScheduler 3.x with a SQLAlchemy job store on ``DATABASE_URL``. Both kinds of
host obey the same toggle in the store, and the trading tick only trades while
this host holds the account's lease (see :mod:`core.trading.lease`).
"""

from __future__ import annotations

import atexit
import logging
import threading
from datetime import UTC, datetime

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from core import services
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
            sched.add_job("jobs.tasks:live_diff", "interval", minutes=s.diff_minutes, id="live_diff", replace_existing=True)
            sched.add_job("jobs.tasks:retrain", "cron", hour=s.retrain_hour_utc, minute=0, id="retrain", replace_existing=True)
            sched.start()
            self.scheduler = sched
            log.info("scheduler started (tick every %.1f s)", self.tick_seconds)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the scheduler (waits for a running job to finish when ``wait``) and give up the trading lease.

        Releasing the lease lets the next host (e.g. this server restarted) trade at
        once instead of waiting for the lease to expire.
        """
        with self._lock:
            if self.scheduler is not None and self.scheduler.running:
                self.scheduler.shutdown(wait=wait)
            self.scheduler = None
        loop = self.ctx.extras.get("trading_loop")
        if loop is not None:
            try:
                loop.lease.release()
                log.info("released the trading lease %s", loop.lease.name)
            except Exception as exc:  # the database may already be gone at exit
                log.warning("could not release the trading lease: %s", exc)
        services.close_feeds(self.ctx)  # the loop's kline WebSocket (data.stream), if one was opened

    def wake(self, job_id: str = "trading_tick") -> bool:
        """Run ``job_id`` now instead of at its next interval (the toggle was just switched on); False when not running.

        A run already in progress is not doubled: the job allows one instance at a time.
        """
        if not self.running:
            return False
        self.scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
        return True

    def jobs(self) -> list[dict]:
        """Return the registered jobs with their next run times."""
        if not self.running:
            return []
        return [{"id": j.id, "next_run": j.next_run_time.isoformat() if j.next_run_time else None} for j in self.scheduler.get_jobs()]


_embedded: SchedulerHost | None = None
_embedded_lock = threading.Lock()


def embedded_host(ctx: Context | None = None) -> SchedulerHost:
    """Start (once per process) and return the scheduler embedded in the app server.

    Called by the server's start-up hook (``server.py``, so a restarted server resumes
    trading before any browser opens it) and by the first page run under a plain
    ``streamlit run app.py``. The host shuts down, releasing its lease, when the
    process exits.
    """
    global _embedded
    with _embedded_lock:
        if _embedded is None:
            _embedded = SchedulerHost(ctx)
            atexit.register(stop_embedded_host)
        _embedded.start()
        return _embedded


def stop_embedded_host() -> None:
    """Stop the embedded scheduler, if any, and release its trading lease (idempotent)."""
    with _embedded_lock:
        host = _embedded
    if host is not None:
        host.shutdown(wait=False)
