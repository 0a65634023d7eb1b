"""What the DAG files share: defaults, the pool, the backup-set asset, settings templates.

The DAG files stay thin and declarative; everything they need at parse time
comes from here and costs no database or network access. Configuration is
read at run time by each DAG's first task, which returns the run's settings
(a model of ``run_settings``, dumped to JSON); later tasks read them through
templates checked against that model when the DAG file is parsed
(``BACKUP.rds_instance``; a misspelt field fails the import), and tasks of a
component the installation does not have skip themselves
(``pre_execute=only_if(BACKUP.rds_instance)``), so one DAG shape serves
every variant.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import timedelta
from difflib import get_close_matches
from typing import Any

import pendulum
from airflow.sdk import Asset
from pydantic import BaseModel

from ue_backup.compat import AirflowSkipException
from ue_backup.config import load_config_for_parsing
from ue_backup.dag_shape import (
    DagShape,
    StaleShape,
    present_tasks,
    unbuilt_message,
    unbuilt_steps,
)
from ue_backup.notifications import TaskFailureNotifier
from ue_backup.run_settings import (
    BackupRunSettings,
    DrillRunSettings,
    RestorePlanResult,
    RestoreRunSettings,
    RetentionRunSettings,
)
from ue_backup.states import run_task_states, state_value

OWNER = "ue-backup"
POOL = "ue_backup"
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
BACKUP_SET_ASSET = Asset(name="ue_backup_set", uri="ue-backup://backup-sets")


def default_args() -> dict[str, Any]:
    """Owner, retries, pool and failure alert of every task.

    ``UE_BACKUP_RETRY_DELAY_SECONDS`` (default 60) shortens the retry delay
    for tests and demos, where the sandbox answers in seconds (see also
    ``UE_BACKUP_POLL_SECONDS`` in ``triggers.waits``).
    """
    delay = float(os.environ.get("UE_BACKUP_RETRY_DELAY_SECONDS", "60"))
    return {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(seconds=delay),
        "pool": POOL,
        "on_failure_callback": [TaskFailureNotifier()],
    }


def backup_schedule() -> str | None:
    """The backup schedule from the configuration file, or None (manual runs only).

    Only the file is read at parse time; a configuration kept in the Airflow
    Variable gives an unscheduled DAG (documented in the README).
    """
    cfg = load_config_for_parsing()
    return cfg.schedule if cfg else None


def dag_shape() -> DagShape:
    """Which optional steps the DAG files build: from the configuration file, else all.

    Read when the DAG file is parsed, like the schedule; a configuration kept
    in the Variable (or an invalid file) builds every step (``DagShape``).
    """
    return DagShape.of(load_config_for_parsing())


def installation_for_form() -> str | None:
    """The installation's name, when the configuration file gives it at parse time (the
    trigger form then checks ``confirm`` against it: ``forms.confirm_param``)."""
    cfg = load_config_for_parsing()
    return cfg.installation if cfg else None


def refuse_unbuilt_steps(ti: Any, needed: dict[str, bool]) -> None:
    """Fail the calling task when this run has no task for a step its settings need.

    The run's tasks are read from Airflow (its task instances, those removed
    from it left out), not from the DAG file as parsed now. The failure
    (``StaleShape``) is retried like any task failure: the scheduler adds the
    new steps to the run once the file is re-read (``dag_shape``).
    """
    states = run_task_states(ti)
    missing = unbuilt_steps(needed, present_tasks(states))
    if missing:
        raise StaleShape(unbuilt_message(missing))


def retention_schedule() -> str | None:
    """The retention schedule from the configuration file, else the default (daily).

    Unlike backups, retention runs on its default schedule without a file: a
    configuration kept in the Variable is read by the run itself.
    """
    from ue_backup.config import RetentionConfig

    cfg = load_config_for_parsing()
    return (cfg.retention if cfg else RetentionConfig()).schedule


def drill_schedule() -> Any:
    """When ``ue_restore_drill`` runs: its cron, after each backup set (the Asset), or both.

    From the configuration file's ``drill`` section, else its defaults (weekly
    and after every backup), so a configuration kept in the Variable still
    gets drills. Both together are one ``AssetOrTimeSchedule``.
    """
    from ue_backup.compat import AssetOrTimeSchedule, CronTriggerTimetable
    from ue_backup.config import DrillConfig

    cfg = load_config_for_parsing()
    drill = cfg.drill if cfg else DrillConfig()
    cron = CronTriggerTimetable(drill.schedule, timezone="UTC") if drill.schedule else None
    if cron and drill.after_backup:
        return AssetOrTimeSchedule(timetable=cron, assets=BACKUP_SET_ASSET)
    if drill.after_backup:
        return BACKUP_SET_ASSET
    return cron


# The template of one settings field: a plain ``str``, because the DAG processor serializes
# every operator argument and refuses a subclass of str (``dag.test()`` never serializes, so
# only a real deployment showed it: tests/deploy). The field and the task it comes from are
# read back from the text by ``setting_field``.
SETTING_EXPRESSION = 'ti.xcom_pull(task_ids="{task_id}")["{key}"]'
SETTING_TEMPLATE = "{{{{ " + SETTING_EXPRESSION + " }}}}"
_SETTING = re.compile(r'^\{\{ ti\.xcom_pull\(task_ids="(?P<task_id>\w+)"\)\["(?P<key>\w+)"\] \}\}$')


def setting_field(template: str) -> tuple[str, str] | None:
    """``(task_id, key)`` of a settings template made here; None for any other text."""
    found = _SETTING.match(template)
    return (found["task_id"], found["key"]) if found else None


def expression(template: str) -> str:
    """The Jinja expression of a settings template alone, to build a larger one."""
    found = setting_field(template)
    if found is None:
        raise ValueError(f"not a settings template: {template!r}")
    task_id, key = found
    return SETTING_EXPRESSION.format(task_id=task_id, key=key)


class UnknownSetting(AttributeError):
    """A DAG file names a settings field its model does not have: a parse error, by design."""


class SettingsTemplates:
    """The templates of one DAG run's settings model, checked when the DAG file is parsed.

    ``BACKUP.rds_instance`` is the template of ``BackupRunSettings.rds_instance``
    as the ``preflight`` task returned it; a field the model does not have
    raises ``UnknownSetting`` naming the model, the field and its close matches,
    so a misspelt key fails the DAG's import instead of rendering None (or,
    through ``only_if``, silently skipping a component).
    """

    def __init__(self, model: type[BaseModel], task_id: str) -> None:
        self._model = model
        self._task_id = task_id

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):  # not a field: Python's protocols, or unset attributes
            raise AttributeError(name)
        if name not in self._model.model_fields:
            raise unknown_setting((self._model,), name, self._task_id)
        return SETTING_TEMPLATE.format(task_id=self._task_id, key=name)

    def __repr__(self) -> str:
        return f"settings_templates({self._model.__name__}, task_id={self._task_id!r})"


def unknown_setting(models: tuple[type[BaseModel], ...], key: str, task_id: str) -> UnknownSetting:
    """The parse error for ``key``: the model(s), the field, and the fields close to it."""
    fields = [f for model in models for f in model.model_fields]
    close = get_close_matches(key, fields, n=3)
    hint = f" (close matches: {', '.join(close)})" if close else ""
    names = " or ".join(model.__name__ for model in models)
    return UnknownSetting(
        f"{names} has no field {key!r}{hint}: the task {task_id!r} never returns it "
        "(see ue_backup/run_settings.py)"
    )


def settings_templates(model: type[BaseModel], task_id: str) -> SettingsTemplates:
    """Templates for the fields of ``model`` as the task ``task_id`` returns it."""
    return SettingsTemplates(model, task_id)


# The run settings each DAG reads, by the task that returns them (ue_backup/run_settings.py).
BACKUP = settings_templates(BackupRunSettings, task_id="preflight")
RESTORE = settings_templates(RestoreRunSettings, task_id="validate")
PLANNED = settings_templates(RestorePlanResult, task_id="plan")
DRILL = settings_templates(DrillRunSettings, task_id="prepare")
RETENTION = settings_templates(RetentionRunSettings, task_id="validate")


def xcom(task_id: str, key: str | None = None) -> str:
    """A template for another task's return value (or one key of it)."""
    tail = f"['{key}']" if key else ""
    return f"{{{{ ti.xcom_pull(task_ids='{task_id}'){tail} }}}}"


def xcom_if_any(task_id: str, key: str) -> str:
    """A template for one key of another task's return value, None when it returned none
    (it failed or was skipped): for a step that runs ``all_done`` after it."""
    return f"{{{{ (ti.xcom_pull(task_ids='{task_id}') or {{}}).get('{key}') }}}}"


def planned_if(value: str, flag: str) -> str:
    """A template for a settings value, None unless a settings flag is set (both templates)."""
    return f"{{{{ {expression(value)} if {expression(flag)} else None }}}}"


def brought_back(component: str, planned: str, key: str = "recovery_point_arn") -> str:
    """A template for what a restore step starts from: what ``bring_back_locked_copies``
    brought home for ``component`` (its ``key``) when it ran, else the plan's own."""
    step = "ti.xcom_pull(task_ids='bring_back_locked_copies')"
    back = f"(({step} or {{}}).get('{component}') or {{}})"
    return f"{{{{ {back}.get('{key}') or {expression(planned)} }}}}"


def only_if(field: str, *values: Any) -> Callable[[Any], None]:
    """A ``pre_execute`` hook: skip the task unless the setting is set (or is one of values).

    ``field`` is a checked template (``BACKUP.rds_instance``): a field the
    settings do not have failed when the template was made, so a gate never
    skips a component silently on a misspelt key.
    """
    found = setting_field(field)
    if found is None:
        raise ValueError(
            f"only_if takes a settings template such as BACKUP.rds_instance, not {field!r}"
        )
    task_id, key = found

    def check(context: Any) -> None:
        settings = context["ti"].xcom_pull(task_ids=task_id) or {}
        value = settings.get(key)
        if (values and value not in values) or (not values and not value):
            raise AirflowSkipException(f"not part of this run: {key} is {value!r}")

    return check


def fail_run_if_any_task_failed(
    setup: Any,
    after: Any,
    done: str = "the workflows were resumed",
    not_done: str = "the workflows were NOT resumed",
    summary_from: str | None = None,
) -> Any:
    """A last teardown that fails the run when any of its tasks failed or was stopped.

    "Mark run as failed" in the UI skips every pending task but lets the
    teardowns run; the run's state is then computed from its leaves, which
    were skipped, and a run marked failed would end *success*. This teardown
    sees the failed or stopped tasks and fails the run, loudly.

    What it says of the run's other teardown (``after``) comes from that
    task's state, never assumed: ``done`` when it succeeded (or, with
    ``summary_from``, that task's XCom ``summary``: the restore's resume says
    what is live and what was left over), ``not_done`` with its state when it
    did not, followed by the ``summary`` it pushed under that key before
    failing (the restore's resume: what is live and what to do).
    """
    from airflow.sdk import task

    from ue_backup.errors import PermanentFailure

    after_id = getattr(after, "operator", after).task_id

    # No alert of its own: the failed step has sent one, naming itself.
    @task(task_id="run_outcome", retries=1, on_failure_callback=None)
    def run_outcome(**context: Any) -> str:
        ti = context["ti"]
        states = run_task_states(ti)
        states = {name: state_value(state) for name, state in states.items()}
        failed = sorted(t for t, s in states.items() if s in ("failed", "upstream_failed"))
        if failed:
            raise PermanentFailure(
                f"{len(failed)} task(s) of this run failed or were stopped: {failed} "
                f"(see their logs); {teardown_said(ti, states.get(after_id))}"
            )
        return "every task succeeded or was skipped"

    def teardown_said(ti: Any, state: str | None) -> str:
        said = pushed = None
        if summary_from and state == "success":
            said = (ti.xcom_pull(task_ids=summary_from) or {}).get("summary")
        elif summary_from:
            pushed = ti.xcom_pull(task_ids=summary_from, key="summary")
        return teardown_outcome(after_id, state, done, not_done, said or pushed)

    outcome = run_outcome().as_teardown(setups=setup, on_failure_fail_dagrun=True)
    after >> outcome
    return outcome


def fail_run_if_not_approved(approve: Any, setup: Any) -> Any:
    """A teardown that fails the run when the in-place approval failed or was stopped.

    "Mark run as failed" while ``approve_in_place`` waits skips every pending
    task; ``run_outcome`` is skipped with its setup (the suspension, which never
    ran), and the run would end *success* with nothing restored. This teardown
    of ``plan`` (which did run) sees it and fails the run, saying nothing was
    changed. As ``plan``'s teardown it also makes a cleared approval plan again:
    Airflow clears a task's setups with it, so a re-asked approval shows a
    fresh plan, not one hours old.
    """
    from airflow.sdk import task

    from ue_backup.errors import PermanentFailure

    approve_id = getattr(approve, "task_id", None) or approve.operator.task_id

    @task(task_id="approval_outcome", retries=1, on_failure_callback=None)
    def approval_outcome(**context: Any) -> str:
        states = run_task_states(context["ti"])
        state = state_value(states.get(approve_id))
        if state in ("failed", "upstream_failed", "removed"):
            raise PermanentFailure(
                f"the in-place restore was not approved ({approve_id}: {state}; rejected, not "
                "answered in time, or the run was marked failed while it waited): nothing "
                "was changed"
            )
        return f"{approve_id}: {state}"

    outcome = approval_outcome().as_teardown(setups=setup, on_failure_fail_dagrun=True)
    approve >> outcome
    return outcome


def teardown_outcome(
    task_id: str, state: str | None, done: str, not_done: str, summary: str | None = None
) -> str:
    """What ``run_outcome`` says of the run's other teardown, from that task's state.

    ``done`` only when it succeeded (its ``summary`` instead when it gave
    one); otherwise ``not_done`` with its state, then the ``summary`` it left
    before failing. A failed resume never reads "the workflows were resumed".
    """
    if state == "success":
        return summary or done
    if state == "skipped":
        return f"{task_id} was skipped"
    text = f"{not_done} ({task_id}: {state or 'did not run'}; see its log)"
    return f"{text}: {summary}" if summary else text
