"""``dag.test()`` parses and stores the DAG folder again only when what a parse reads changed.

Before every run, ``dag.test()`` parses the whole DAG folder (every project DAG,
not only the one it runs) and writes the result to the metadata database
(``sync_bag_to_db``: each DAG serialized and hashed, the DAG rows updated), so
that sibling DAGs exist there too. For the same folder, environment and
configuration file, that parse builds the same DAGs and the write finds
nothing to change: a tenth of an end-to-end test's CPU, spent again on every
run.

``install`` keeps, per process, the bag ``dag.test()`` parsed for each
fingerprint of what a parse reads (the environment, the configuration file
``UE_BACKUP_CONFIG_FILE`` names and its bytes, the DAG files' sizes and
modification times), and skips the write when the last write of DAG rows in
this process was of that very bag to the same database: the rows are already
what it would write. Any other write in between (another configuration's
shape, a test registering a DAG of its own) makes the next run write again.
Only ``dag.test()``'s own calls are affected. Used by the tests
(``tests/conftest.py``); nothing in a deployment runs this.
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ue_backup.config import CONFIG_FILE_ENV

# Environment variables that change from test to test, or run to run, without reaching a
# parse: pytest's current test, and the context each task run leaves behind (AIRFLOW_CTX_*).
VOLATILE_ENV = frozenset({"PYTEST_CURRENT_TEST"})
VOLATILE_PREFIX = "AIRFLOW_CTX_"

# Bags kept (the most recently used): a module's tests share one configuration, and
# a test with its own configuration file makes a new fingerprint.
KEPT_BAGS = 4


def fingerprint(dag_folder: str | os.PathLike[str]) -> tuple[Any, ...]:
    """Everything a parse of ``dag_folder`` reads besides the code already imported."""
    env = tuple(
        sorted(
            (k, v)
            for k, v in os.environ.items()
            if k not in VOLATILE_ENV and not k.startswith(VOLATILE_PREFIX)
        )
    )
    config = os.environ.get(CONFIG_FILE_ENV)
    try:
        config_bytes = Path(config).read_bytes() if config else None
    except OSError:
        config_bytes = None  # the parse finds it missing too; the same bag either way
    files = tuple(
        (str(p), p.stat().st_mtime_ns, p.stat().st_size)
        for p in sorted(Path(dag_folder).rglob("*.py"))
    )
    return env, config_bytes, files


def _from_dag_test() -> bool:
    """Whether the caller's caller is ``DAG.test`` (the only caller changed here)."""
    from airflow.sdk.definitions.dag import DAG

    return sys._getframe(2).f_code is DAG.test.__code__


def install() -> Callable[[], None]:
    """Parse and store as described above; returns the undo."""
    from airflow import settings
    from airflow.dag_processing import collection
    from airflow.dag_processing import dagbag as module

    original_bag, original_sync = module.BundleDagBag, module.sync_bag_to_db
    original_update = collection.update_dag_parsing_results_in_db
    bags: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
    last_write: list[tuple[Any, tuple[Any, ...]]] = []

    def bundle_dag_bag(*args: Any, **kwargs: Any) -> Any:
        if not _from_dag_test():
            return original_bag(*args, **kwargs)
        folder = kwargs.get("dag_folder", args[0] if args else None)
        key = (fingerprint(folder), repr(args), repr(sorted(kwargs.items())))
        if key not in bags:
            bags[key] = original_bag(*args, **kwargs)
            while len(bags) > KEPT_BAGS:
                bags.popitem(last=False)
        bags.move_to_end(key)
        return bags[key]

    def sync_bag_to_db(dagbag: Any, bundle_name: str, bundle_version: Any, **kwargs: Any) -> Any:
        # The bag itself (not its id, which a later bag may reuse) and where it went.
        write = (bundle_name, bundle_version, settings.SQL_ALCHEMY_CONN)
        cached = any(dagbag is bag for bag in bags.values())
        same = bool(last_write) and last_write[0][0] is dagbag and last_write[0][1] == write
        if _from_dag_test() and cached and not kwargs and same:
            return None  # this process last wrote this very bag there: nothing would change
        last_write.clear()
        result = original_sync(dagbag, bundle_name, bundle_version, **kwargs)
        if cached and not kwargs:
            last_write.append((dagbag, write))
        return result

    def update_dag_parsing_results_in_db(*args: Any, **kwargs: Any) -> Any:
        last_write.clear()  # DAG rows written by anyone (a test registering its own DAG)
        return original_update(*args, **kwargs)

    module.BundleDagBag, module.sync_bag_to_db = bundle_dag_bag, sync_bag_to_db
    collection.update_dag_parsing_results_in_db = update_dag_parsing_results_in_db

    def undo() -> None:
        module.BundleDagBag, module.sync_bag_to_db = original_bag, original_sync
        collection.update_dag_parsing_results_in_db = original_update

    return undo
