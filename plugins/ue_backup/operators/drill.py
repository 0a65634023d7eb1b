"""The restore drill's cleanup: delete every temporary resource, wait until all are gone.

The drill DAG's teardown. Deleting is done in rounds (``DrillResources``):
each round deletes what can be deleted now, then the operator defers until
nothing is busy any more (a deletion running, a creation or a restore still
going), and rounds again until everything is gone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator

from ue_backup.errors import PermanentFailure
from ue_backup.triggers.base import run_inline
from ue_backup.triggers.drill import DrillCleanupSettledTrigger
from ue_backup.triggers.waits import event_or_fail, poll_interval


class DrillCleanupOperator(BaseOperator):
    """Delete a drill's temporary resources (``drill_resources``: its settings entry ``resources``).

    ``copy_jobs``: from the protected copies, the bring-back's copy jobs
    (``{"database": job id, ...}``); each one's point in the installation's vault
    is the drill's to delete. Idempotent: what is already gone is done. Fails,
    naming what is left, after ``max_rounds`` rounds or when one wait exceeds
    ``round_timeout`` seconds. Returns the final state of every resource.
    """

    template_fields = ("drill_resources", "efs_restore_job", "copy_jobs")

    def __init__(
        self,
        *,
        drill_resources: dict[str, Any] | str | None,
        efs_restore_job: str | None = None,
        copy_jobs: dict[str, str] | str | None = None,
        max_rounds: int = 20,
        round_timeout: float = 3 * 3600,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.drill_resources = drill_resources
        self.efs_restore_job = efs_restore_job
        self.copy_jobs = copy_jobs
        self.max_rounds = max_rounds
        self.round_timeout = round_timeout
        self.deferrable = deferrable

    def execute(self, context: Any) -> dict[str, Any]:
        if not self.drill_resources:
            self.log.info("The drill named no resource (it was refused): nothing to delete")
            return {"rounds": 0, "states": {}}
        return self._round(context, 1)

    def _round(self, context: Any, number: int) -> dict[str, Any]:
        from ue_backup.drill_resources import BY_HAND, GONE, summary
        from ue_backup.hooks.drill import DrillResources

        states = DrillResources(
            dict(self.drill_resources), self.efs_restore_job, self._copy_jobs()
        ).delete_round()
        self.log.info("Cleanup round %d:\n%s", number, summary(states))
        left = {name: str(state) for name, state in states.items() if state.status != GONE}
        if not left:
            self.log.info("Every temporary resource of the drill is gone")
            return {"rounds": number, "states": {name: str(s) for name, s in states.items()}}
        if all(states[name].status == BY_HAND for name in left):
            raise PermanentFailure(
                "every temporary resource the drill can prove its own is gone; left to you: "
                + "; ".join(f"{name}: {states[name].detail}" for name in left)
            )
        if number >= self.max_rounds:
            raise PermanentFailure(f"after {number} cleanup rounds these are left: {left}")
        trigger = DrillCleanupSettledTrigger(
            resources=dict(self.drill_resources),
            efs_restore_job=self.efs_restore_job,
            copy_jobs=self._copy_jobs(),
            poll_interval=poll_interval(15),
        )
        if self.deferrable:
            self.defer(
                trigger=trigger,
                method_name="execute_complete",
                kwargs={"round_number": number},
                timeout=timedelta(seconds=self.round_timeout),
            )
        return self.execute_complete(context, run_inline(trigger), round_number=number)

    def _copy_jobs(self) -> dict[str, str]:
        """The bring-back's copy jobs as rendered (none: an empty or unrendered template)."""
        return dict(self.copy_jobs) if isinstance(self.copy_jobs, dict) else {}

    def execute_complete(
        self, context: Any, event: dict[str, Any] | None = None, round_number: int = 1
    ) -> dict[str, Any]:
        event_or_fail(event)
        return self._round(context, round_number + 1)
