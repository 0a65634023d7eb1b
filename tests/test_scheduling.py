"""Which tests ``make test`` keeps on their world's worker (tests/scheduling.py).

A test wrongly set free would run on another worker without the world it
builds on (or reset the sandbox under it); a test wrongly tied waits behind a
world it does not need.
"""

from __future__ import annotations

import textwrap

import pytest

from tests import scheduling

SHAPES = "tests/dags/test_dag_shapes.py"
RETENTION = "tests/dags/test_ue_backup_retention.py"
IN_PLACE = "tests/dags/test_ue_restore_in_place_failures.py"


def test_the_shaped_end_to_end_runs_leave_the_shape_modules_parse_world():
    e2e = f"{SHAPES}::test_a_derby_installation_backs_up_restores_and_drills_with_only_its_tasks"
    assert scheduling.scope(e2e) == e2e
    kept = "test_the_kept_tasks_run_in_the_same_order_as_in_the_full_shape"
    assert scheduling.scope(f"{SHAPES}::{kept}[full-ue_backup]") == SHAPES


def test_a_fixture_that_uses_the_world_ties_its_tests_to_it():
    """Retention's ``sandbox`` is the world's sandbox: every test there stays, in order."""
    bad = f"{RETENTION}::test_bad_params_are_refused_before_anything_is_listed[bad-set-id]"
    assert scheduling.in_world(bad)
    assert scheduling.world_tests(RETENTION) >= {
        "test_dry_run_lists_the_oldest_set_and_changes_nothing",
        "test_a_velero_deletion_that_failed_is_asked_again_on_retry",
    }


def test_tests_that_build_their_own_installation_are_free():
    tied = scheduling.world_tests(IN_PLACE)
    assert tied == {"test_a_failure_before_the_commit_leaves_the_live_system_as_it_was"}


def world_of(tmp_path, source: str) -> frozenset[str] | None:
    path = tmp_path / "test_example.py"
    path.write_text(source)
    return scheduling.world_tests(str(path))


MODULE_WORLD = textwrap.dedent("""
    import pytest

    @pytest.fixture(scope="module")
    def world():
        return 1

    @pytest.fixture
    def sandbox(world):
        return world

    def test_uses_it(sandbox):
        pass

    def test_alone(tmp_path):
        pass
""")


@pytest.mark.parametrize(
    ("source", "tied"),
    [
        (MODULE_WORLD, {"test_uses_it"}),
        ("def test_alone():\n    pass\n", set()),
        # where the source leaves doubt, the whole module stays together
        (MODULE_WORLD.replace('scope="module"', 'scope="module", autouse=True'), None),
        (MODULE_WORLD + '\npytestmark = pytest.mark.usefixtures("world")\n', None),
        (MODULE_WORLD + "\nclass TestIt:\n    def test_x(self):\n        pass\n", None),
    ],
    ids=["through-a-fixture", "no-world", "autouse", "usefixtures", "class"],
)
def test_what_the_source_says(tmp_path, source, tied):
    assert world_of(tmp_path, source) == tied
