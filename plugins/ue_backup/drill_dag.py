"""The drill DAG's helpers: a restore start's gate and clock, and the report's alert.

They are DAG-file glue (a ``pre_execute`` built with ``only_if``, an
``on_failure_callback``), so they sit in the DAG-support layer, above the
drill's task steps (``tasks/drill_steps.py``) they serve.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ue_backup.dag_support import only_if
from ue_backup.notifications import TaskFailureNotifier
from ue_backup.tasks.drill_steps import STARTED_AT, DrillFailed

log = logging.getLogger(__name__)


class DrillReportNotifier(TaskFailureNotifier):
    """The report's failure alert, except when it only repeats a failed step's own alert.

    The report fails the run when a drill step failed (``DrillFailed``); that
    step has sent its alert, naming itself. A report that cannot be written
    alerts as any step does.
    """

    def notify(self, context: Any) -> None:
        if isinstance(context.get("exception"), DrillFailed):
            log.info("No alert from the report: the failed step has sent one")
            return
        super().notify(context)


def drill_step(flag: str) -> Callable[[Any], None]:
    """``pre_execute`` of a restore start: skip unless the plan restores it; record the start.

    ``flag`` is a checked field of the drill's settings (``DRILL.restore_efs``).
    The start time (an XCom ``started_at``) begins the component's measured RTO; a
    start resumed after it deferred keeps the time of its first call.
    """
    gate = only_if(flag)

    def start(context: Any) -> None:
        gate(context)
        ti = context["ti"]
        # once per try: a start that defers (restore_efs waiting for a new file system)
        # runs this again when it resumes, and its clock began at the first call
        if ti.xcom_pull(task_ids=ti.task_id, key=STARTED_AT) is None:
            ti.xcom_push(key=STARTED_AT, value=datetime.now(UTC).isoformat())

    return start
