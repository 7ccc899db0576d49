"""What runs in the background: the interval scheduler that starts due syncs."""

from sfbridge.runtime.scheduler import Outcome, RunResult, RunSync, Scheduler, ScheduleSource

__all__ = ["Outcome", "RunResult", "RunSync", "ScheduleSource", "Scheduler"]
