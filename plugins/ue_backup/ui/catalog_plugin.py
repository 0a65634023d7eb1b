"""The Airflow plugin of the backup catalog: its FastAPI app and its place in the UI's navigation.

Airflow finds this class because its plugin loader imports every ``.py`` file
under the plugins folder (this one as the module ``catalog_plugin``); the
class must stay the only ``AirflowPlugin`` of the package, or Airflow reports
the second one as already registered.

- ``fastapi_apps``: the catalog's app (``catalog_api``), mounted by the
  api-server under ``/ue-backup-catalog`` (the page at ``/ue-backup-catalog/``,
  the JSON at ``/ue-backup-catalog/api/catalog`` and ``/api/plan``).
- ``external_views`` (Airflow 3.1+): "Backup catalog" in the navigation's
  Browse menu, the page shown inside the UI (``/plugin/backup-catalog``), and
  "ue-backup summary", a tab on every run's page (``destination: dag_run``; the
  UI puts the run's ``{DAG_ID}`` and ``{RUN_ID}`` into the ``href``). The
  ``href`` is relative: the UI resolves it against its base URL, so a
  deployment under a path prefix works too.

On Airflow 3.0 (Amazon MWAA's 3.0.6) plugins have no ``external_views``: the
attribute is ignored. Airflow 3.0's ``get_user`` reads a bearer token only
(its UI sends no cookie a plugin could read), so there the JSON API (and the
page) at ``<airflow>/ue-backup-catalog/`` serve requests carrying a token from
``POST /auth/token``; the page in a browser needs 3.1+.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin  # 3.0 and 3.1+ alike

from ue_backup.ui.catalog_api import LazyApp
from ue_backup.ui.frame_links import APP_PATH

URL_PREFIX = APP_PATH


class UeBackupCatalogPlugin(AirflowPlugin):
    """The backup catalog: a FastAPI app and (Airflow 3.1+) a view in the UI's navigation."""

    name = "ue_backup_catalog"
    fastapi_apps = [{"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "ue-backup catalog"}]
    external_views = [
        {
            "name": "Backup catalog",
            "href": URL_PREFIX.lstrip("/") + "/",
            "url_route": "backup-catalog",
            "destination": "nav",
            "category": "browse",
        },
        {
            # a tab on every run's page: what a ue_backup or ue_restore run did (run_page)
            "name": "ue-backup summary",
            "href": URL_PREFIX.lstrip("/") + "/runs/{DAG_ID}/{RUN_ID}",
            "url_route": "ue-backup-run-summary",
            "destination": "dag_run",
        },
    ]
