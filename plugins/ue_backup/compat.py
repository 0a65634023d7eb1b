"""Names whose import path differs between Airflow 3.0 and Airflow 3.1 and later.

Amazon MWAA offers Airflow 3.0 (3.0.6); this project is built and tested on
3.3. Each name is taken from its 3.1+ home when that exists, so nothing
changes there (the same objects as before); on 3.0 it falls back to where 3.0
defines it, which is also the class its task runner handles.
"""

from __future__ import annotations

try:
    from airflow.sdk import TriggerRule
except ImportError:  # Airflow 3.0
    from airflow.utils.trigger_rule import TriggerRule  # type: ignore[no-redef]

try:
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
except ImportError:  # Airflow 3.0
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowFailException,
        AirflowSkipException,
    )

try:
    from airflow.sdk.exceptions import AirflowNotFoundException
except ImportError:  # Airflow 3.0: what its connection lookup raises
    from airflow.exceptions import AirflowNotFoundException  # type: ignore[no-redef]

try:
    from airflow.sdk import BaseHook
except ImportError:  # Airflow 3.0
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.0: what its BaseOperator.defer raises
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef]

try:
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable
except ImportError:  # Airflow 3.0
    from airflow.timetables.assets import AssetOrTimeSchedule  # type: ignore[no-redef]
    from airflow.timetables.trigger import CronTriggerTimetable  # type: ignore[no-redef]

__all__ = [
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSkipException",
    "AssetOrTimeSchedule",
    "BaseHook",
    "CronTriggerTimetable",
    "TaskDeferred",
    "TriggerRule",
]
