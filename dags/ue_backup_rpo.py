"""
### ue_backup_rpo: the newest restorable backup set is never older than the RPO unnoticed

Every 5 minutes, asks the restore planner (as `ue_restore` with `latest`
would) for the newest restorable set in the home region, and in the
`cross_region` region when there is one, and compares its age with the RPO
(`rpo` in the configuration; by default twice the schedule's interval plus
the window's maximum). Alerts (SNS, `alerts.sns_topic_arn`) once when the
age passes the RPO, once more when it is met again; the age is in the log
and the task's return value. The run's `run_after` is its "now".

First, `refresh_catalog` lists everything once (the planner's views, sizes,
manifests, drill reports) and keeps the backup catalog that the UI's "Backup
catalog" page serves (Variable `ue_backup_catalog`); `check_rpo` then plans on
that same listing. A failed refresh fails its task (and alerts); the check
runs anyway, listing for itself.

This catches what failed-task alerts cannot: a paused `ue_backup`, runs that
never start, runs that all fail. When Airflow itself is down, the CloudWatch
alarm that `ue_backup`'s preflight keeps up to date pages instead. Runs in
the default pool, so a busy backup never blocks it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

# Named here so that the dag-processor imports them once and forks every later parse of
# this file with them loaded ([dag_processor] parsing_pre_import_modules, on by default).
import airflow.api_fastapi.auth.managers.models.resource_details
import airflow.providers.amazon.aws.assets.s3
import airflow.providers.amazon.aws.hooks.s3
import airflow.providers.common.compat.notifier
import airflow.providers.common.io.assets.file
import airflow.providers.standard.decorators.python
import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import DAG, task

from ue_backup.compat import TriggerRule
from ue_backup.dag_support import START_DATE, default_args

with DAG(
    dag_id="ue_backup_rpo",
    description="Alert once when the newest restorable backup set is older than the RPO",
    doc_md=__doc__,
    schedule=timedelta(minutes=5),
    start_date=START_DATE,
    catchup=False,
    # A protection: running from its first deployment, not paused like other new DAGs.
    is_paused_upon_creation=False,
    max_active_runs=1,
    default_args={**default_args(), "pool": "default_pool"},
    tags=["ue-backup", "rpo"],
) as dag:

    @task
    def refresh_catalog(**context: Any) -> dict[str, Any]:
        """List once, and keep the backup catalog the UI's "Backup catalog" page serves."""
        from ue_backup.config import load_config
        from ue_backup.tasks.catalog_refresh import refresh

        return refresh(load_config(), context["dag_run"].run_after, context["run_id"])

    # Whatever the refresh did: the guard never waits on the catalog's success.
    @task(trigger_rule=TriggerRule.ALL_DONE)
    def check_rpo(**context: Any) -> dict[str, Any]:
        """The age of the newest restorable set per region; one alert per breach and recovery."""
        from functools import partial

        from ue_backup.config import load_config
        from ue_backup.tasks.catalog_refresh import views_of_run
        from ue_backup.tasks.rpo import check, newest_restorable

        cfg = load_config()
        views = views_of_run(cfg, context["run_id"])  # this run's listing: not listed again
        newest = partial(newest_restorable, views=views)
        return check(cfg, context["dag_run"].run_after, newest=newest)

    refresh_catalog() >> check_rpo()
