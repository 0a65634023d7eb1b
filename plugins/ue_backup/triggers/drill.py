"""Wait until a restore drill's temporary resources are settled, without a worker slot."""

from __future__ import annotations

from typing import Any

from airflow.triggers.base import TriggerEvent

from ue_backup.triggers.base import PollingTrigger, success


class DrillCleanupSettledTrigger(PollingTrigger):
    """Fires when none of the drill's resources is busy (being created, deleted or restored).

    Then every resource is either gone or ready for a delete call, and the
    cleanup operator takes its next round. Reads only: the states come from
    ``DrillResources.states``, the same code the operator judges with.
    """

    serialized = ("resources", "efs_restore_job", "copy_jobs", "poll_interval")

    def __init__(
        self,
        *,
        resources: dict[str, Any],
        efs_restore_job: str | None = None,
        copy_jobs: dict[str, str] | None = None,
        poll_interval: float = 15.0,
    ) -> None:
        super().__init__()
        self.resources = resources
        self.efs_restore_job = efs_restore_job
        self.copy_jobs = copy_jobs or {}
        self.poll_interval = poll_interval

    def check(self) -> TriggerEvent | None:
        from ue_backup.drill_resources import BUSY
        from ue_backup.hooks.drill import DrillResources

        states = DrillResources(self.resources, self.efs_restore_job, self.copy_jobs).states()
        busy = {name: str(state) for name, state in states.items() if state.status == BUSY}
        if busy:
            self.log.info("Drill resources still busy: %s", busy)
            return None
        return success(states={name: str(state) for name, state in states.items()})
