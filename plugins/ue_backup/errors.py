"""The two kinds of failure a ue-backup task can end with.

``PermanentFailure`` fails the task at once, without retries: a job AWS
reports FAILED, a plan that breaks rule 1, bad input. Retrying cannot help,
and retries would only delay the alert. Anything else (an API error, a
timeout) is retried by Airflow as configured.
"""

from __future__ import annotations

from ue_backup.compat import AirflowFailException


class PermanentFailure(AirflowFailException):
    """The task failed in a way a retry cannot fix; the message says why."""
