"""
### ue_backup_watchdog: no workflow stays suspended after its backup run died

Every few minutes, resumes EC Deployments (and a Derby installation's platform,
scaled to zero by the window) whose resume deadline has passed
while the run that suspended them is no longer running, and logs each one
loudly, and alerts (SNS, `alerts.sns_topic_arn`) once when a cold window is
still open past its configured maximum. Runs in the default pool, so a busy
backup never blocks it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

# Named here so that the dag-processor imports them once and forks every later parse of
# this file with them loaded ([dag_processor] parsing_pre_import_modules, on by default).
# The S3 hook (boto3) comes in through the backup-set Asset in dag_support: Airflow checks
# an Asset's URI with every provider's asset handlers, the amazon provider's among them.
import airflow.api_fastapi.auth.managers.models.resource_details
import airflow.providers.amazon.aws.assets.s3
import airflow.providers.amazon.aws.hooks.s3
import airflow.providers.common.compat.notifier
import airflow.providers.common.io.assets.file
import airflow.providers.standard.decorators.python
import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import DAG, task

from ue_backup.dag_support import START_DATE, default_args

with DAG(
    dag_id="ue_backup_watchdog",
    description="Resume ECDs left suspended past their deadline by a run that is gone",
    doc_md=__doc__,
    schedule=timedelta(minutes=5),
    start_date=START_DATE,
    catchup=False,
    # A protection: running from its first deployment, not paused like other new DAGs.
    is_paused_upon_creation=False,
    max_active_runs=1,
    default_args={**default_args(), "pool": "default_pool"},
    tags=["ue-backup", "watchdog"],
) as dag:

    @task
    def resume_expired_suspensions(**context: Any) -> dict[str, Any]:
        """Find expired suspensions; resume those whose run is not running."""
        from functools import partial

        from ue_backup.config import load_config
        from ue_backup.hooks.ecd import EcdHook
        from ue_backup.notifications import send_alert
        from ue_backup.tasks.watchdog import repair

        cfg = load_config()
        hook = EcdHook(conn_id=cfg.kubernetes_conn_id)
        derby = cfg.database.derby  # Derby's writer, scaled to zero by the window
        platform_hook = None
        if derby:
            from ue_backup.hooks.derby_platform import PlatformHook

            platform_hook = PlatformHook(conn_id=cfg.kubernetes_conn_id)
        return repair(
            hook,
            cfg.kubernetes.namespace,
            context["ti"].get_dagrun_state,
            alert=partial(send_alert, cfg),
            platform=derby.platform.model_dump(mode="json") if derby else None,
            platform_hook=platform_hook,
        )

    resume_expired_suspensions()
