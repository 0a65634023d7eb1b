"""Where an in-place restore stopped, from its task states (as Airflow hands them back)."""

from __future__ import annotations

import copy

import pytest
from airflow.utils.state import TaskInstanceState

from tests.plugins.plans import restore_steps
from tests.plugins.test_config import VALID
from ue_backup.config import parse_config
from ue_backup.errors import PermanentFailure
from ue_backup.run_settings import RestorePlanResult, RestoreRunSettings
from ue_backup.tasks.restore_commit import checks_not_passed, commit, not_ready, stage

S, F, UF, SK = "success", "failed", "upstream_failed", "skipped"


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ({"commit_point": UF, "switch_over_database": UF, "place_efs": UF}, "untouched"),
        ({"commit_point": SK, "switch_over_database": SK, "place_efs": S}, "untouched"),
        ({"commit_point": S, "switch_over_database": S, "place_efs": S}, "committed"),
        ({"commit_point": S, "switch_over_database": SK, "place_efs": S}, "committed"),
        ({"commit_point": S, "switch_over_database": F, "place_efs": UF}, "half"),
        ({"commit_point": S, "switch_over_database": S, "place_efs": F}, "half"),
        # commit steps that never ran (the run was stopped): every task has an entry
        ({"commit_point": S, "switch_over_database": None, "place_efs": None}, "half"),
        ({"commit_point": S, "switch_over_database": S, "place_efs": "removed"}, "half"),
        # Derby, shaped by the configuration file: no switch-over task was ever built
        ({"commit_point": S, "place_efs": S}, "committed"),
        ({"commit_point": S, "place_efs": F}, "half"),
    ],
)
def test_stage(states, expected):
    assert stage(states) == expected
    # Airflow may hand back its (str, Enum) states, whose str() is not the value
    enums = {k: TaskInstanceState(v) if v else v for k, v in states.items()}
    assert stage(enums) == expected


# --- the clean-up never removes a tree the EFS restore job is still writing -----------------


def restore_settings(**changes) -> RestoreRunSettings:
    """An in-place restore's settings (the test configuration's), with ``changes``."""
    cfg = parse_config(copy.deepcopy(VALID))
    names = {"restore_id": "r", "rds_target": "r", "memorydb_target": "r"}
    run = RestoreRunSettings.build(
        cfg, names, {"type": "latest"}, {"mode": "restore", "target": "in_place"}
    )
    return run.model_copy(update=changes)


@pytest.fixture
def restore_job(sandbox, monkeypatch):
    """Start an in-place EFS restore job on the sandbox; returns (settings, start)."""
    from sandbox.faults import Fault

    monkeypatch.setenv("UE_BACKUP_POLL_SECONDS", "0.05")
    aws = sandbox.aws
    # long enough that the job still runs when the test first looks, on a loaded machine too
    aws.durations.update(backup_job=0, restore_job=3)
    fs_id = aws.create_file_system("live")
    (aws.efs_path(fs_id) / "data.txt").write_text("live")
    backup = sandbox.client("backup")
    backup.create_backup_vault(BackupVaultName="ue-vault")
    arn = sandbox.client("efs").describe_file_systems(FileSystemId=fs_id)["FileSystems"][0][
        "FileSystemArn"
    ]
    role = "arn:aws:iam::123456789012:role/ue-backup"
    point = backup.start_backup_job(
        BackupVaultName="ue-vault", ResourceArn=arn, IamRoleArn=role, IdempotencyToken="s1"
    )["RecoveryPointArn"]
    settings = restore_settings(
        region=backup.meta.region_name, efs_file_system_id=fs_id, restore_id="ue-test-r260101000000"
    )

    def start(never=False):
        if never:
            sandbox.faults.add(Fault("backup", "StartRestoreJob", kind="never"))
        metadata = backup.get_recovery_point_restore_metadata(
            BackupVaultName="ue-vault", RecoveryPointArn=point
        )["RestoreMetadata"]
        return backup.start_restore_job(
            RecoveryPointArn=point, IamRoleArn=role, Metadata={**metadata, "newFileSystem": "false"}
        )["RestoreJobId"]

    return settings, start, backup


def test_the_clean_up_waits_for_a_restore_job_still_writing(restore_job):
    from ue_backup.tasks.restore_commit import wait_for_restore_job_end

    settings, start, backup = restore_job
    job = start()
    assert backup.describe_restore_job(RestoreJobId=job)["Status"] in ("PENDING", "RUNNING")

    assert wait_for_restore_job_end(settings, job, timeout_seconds=10) == "COMPLETED"


def test_the_clean_up_gives_up_naming_the_job_and_the_directory(restore_job):
    from ue_backup.tasks.restore_commit import wait_for_restore_job_end

    settings, start, _ = restore_job
    job = start(never=True)

    with pytest.raises(TimeoutError) as failure:
        wait_for_restore_job_end(settings, job, timeout_seconds=0.3)
    message = str(failure.value)
    assert f"the EFS restore job {job} is" in message
    assert "aws-backup-restore_* directory at the root of the live file system " in message
    assert settings.efs_file_system_id in message
    assert "AWS Backup cannot cancel a restore job" in message


def test_the_resume_commands_put_each_ecd_back_exactly_as_the_restore_would():
    import json
    import shlex

    from ue_backup.hooks.ecd import SUSPENSION_ANNOTATIONS, Suspension
    from ue_backup.tasks.restore_commit import resume_commands

    def held(name, previous):
        return Suspension(name, "r1", previous, None, enabled_now=False)

    text = resume_commands("uepe", [held("ecd-a", True), held("ecd-b", None)])

    patches = {}
    for line in text.splitlines()[1:]:
        words = shlex.split(line)
        assert words[:4] == ["kubectl", "-n", "uepe", "patch"]
        assert words[4] == "ecdeployments.mz.digitalroute.com"
        assert words[6:9] == ["--type", "merge", "-p"]
        patches[words[5]] = json.loads(words[9])
    assert patches["ecd-a"]["spec"] == {"enabled": True}
    assert patches["ecd-b"]["spec"] == {"enabled": None}  # the field was absent: removed again
    for patch in patches.values():
        assert patch["metadata"]["annotations"] == dict.fromkeys(SUSPENSION_ANNOTATIONS)
    assert resume_commands("uepe", []) == "ECDs: none was suspended: nothing to resume."


def test_the_resume_commands_scale_a_held_derby_platform_back_first():
    import json
    import shlex

    from ue_backup.hooks.derby_platform import PLATFORM_ANNOTATIONS, PlatformSuspension
    from ue_backup.hooks.ecd import Suspension
    from ue_backup.tasks.restore_commit import resume_commands

    platform = PlatformSuspension("StatefulSet", "platform", "r1", 3, None, replicas_now=0)
    ecd = Suspension("ecd-a", "r1", True, None, enabled_now=False)
    lines = resume_commands("uepe", [ecd], platform).splitlines()
    scale = shlex.split(lines[1])
    assert scale[:6] == ["kubectl", "-n", "uepe", "patch", "statefulset", "platform"]
    patch = json.loads(scale[9])
    assert patch == {
        "metadata": {"annotations": dict.fromkeys(PLATFORM_ANNOTATIONS)},
        "spec": {"replicas": 3},
    }
    assert "ecdeployments" in lines[3]  # the workflows after the database they need
    alone = resume_commands("uepe", [], platform)
    assert "statefulset platform" in alone
    assert alone.endswith("ECDs: none was suspended: nothing to resume.")


# --- the commit point refuses without every planned component ready --------------------------


def planned(**flags) -> RestorePlanResult:
    """A plan restoring the components named True in ``flags`` (the rest left out)."""
    return RestorePlanResult(**restore_steps(**flags), plan={}, region="eu-west-1")


READY = {"wait_database": S, "check_efs_clean": S, "wait_memorydb": S, "wait_kubernetes": S}


def test_every_planned_component_ready_commits():
    plan = planned(restore_database=True, restore_efs=True, restore_memorydb=True)
    assert not_ready(plan, READY) == []
    assert not_ready(plan, {k: TaskInstanceState(v) for k, v in READY.items()}) == []


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        # MemoryDB taken out of the configuration file while the run waited: its steps removed
        ({**READY, "wait_memorydb": "removed"}, ["wait_memorydb (removed)"]),
        ({**READY, "wait_database": SK}, ["wait_database (skipped)"]),
        # a shape without MemoryDB at all, though the plan restores it
        (
            {k: v for k, v in READY.items() if k != "wait_memorydb"},
            ["wait_memorydb (not in this run)"],
        ),
    ],
)
def test_a_planned_component_not_ready_is_named(states, expected):
    plan = planned(restore_database=True, restore_efs=True, restore_memorydb=True)
    assert not_ready(plan, states) == expected


def test_components_the_plan_leaves_out_may_be_skipped():
    plan = planned(restore_efs=True)
    states = {**READY, "wait_database": SK, "wait_memorydb": SK, "wait_kubernetes": SK}
    assert not_ready(plan, states) == []


def test_the_commit_refuses_naming_what_is_not_ready(sandbox):
    settings = restore_settings().dump()
    plan = planned(restore_efs=True, restore_velero=True).dump()
    with pytest.raises(PermanentFailure, match=r"not ready: wait_kubernetes \(removed\)"):
        commit(settings, plan, {**READY, "wait_kubernetes": "removed"})
    assert commit(settings, plan, READY)["restore_id"] == settings["restore_id"]


def test_the_commit_holds_the_workflows_and_the_platform_before_the_first_live_change(sandbox):
    """From the commit on, a watchdog must not resume them on a half-placed tree, even when
    the run is killed after its suspension's deadline: only resume_workflows may."""
    from datetime import UTC, datetime, timedelta

    from airflow.sdk.api.datamodels._generated import DagRunState

    from sandbox.installation import create_platform
    from tests.plugins.ecds import seed_ecds
    from ue_backup.hooks.derby_platform import PlatformHook
    from ue_backup.hooks.ecd import EcdHook
    from ue_backup.tasks.watchdog import repair

    run = restore_settings(platform={"kind": "Deployment", "name": "platform"})
    names = seed_ecds(sandbox, a=True, b=True)
    create_platform(sandbox, replicas=2)  # in uepe, the configuration's namespace
    ecds, platform = EcdHook(), PlatformHook()
    deadline = datetime.now(UTC) + timedelta(minutes=5)
    ecds.suspend(run.namespace, names, run.restore_id, deadline, "ue_restore/r")
    platform.suspend(
        run.namespace, "Deployment", "platform", run.restore_id, deadline, "ue_restore/r"
    )
    plan = planned(restore_efs=True, resume_owners=[run.restore_id]).dump()

    committed = commit(run.dump(), plan, READY)
    assert committed == commit(run.dump(), plan, READY) | {"at": committed["at"]}  # a retry
    assert committed["held"] == [*sorted(names), "Deployment/platform"]

    killed = repair(
        ecds,
        run.namespace,
        lambda d, r: DagRunState.FAILED,
        now=deadline + timedelta(hours=1),
        platform={"kind": "Deployment", "name": "platform"},
        platform_hook=platform,
    )
    assert killed["resumed"] == {}
    assert platform.replicas_of(run.namespace, "Deployment", "platform") == 0
    assert ecds.resume(run.namespace, run.restore_id) == dict.fromkeys(names, "resumed")


# --- after the commit: a step the plan needs may not be skipped, the checks must pass ---------


def test_a_needed_commit_step_that_was_skipped_is_not_a_commit():
    """ "Mark as failed" while place_efs waited skips it: the database switched, EFS not placed."""
    states = {"commit_point": S, "switch_over_database": S, "place_efs": SK}
    plan = planned(restore_database=True, restore_efs=True, switch_over_database=True)
    assert stage(states, plan) == "half"
    no_efs = planned(restore_database=True, switch_over_database=True)
    assert stage(states, no_efs) == "committed"  # the plan never needed it


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (S, None),
        (F, "failed"),
        (SK, "skipped"),  # the run marked failed while the check waited
        ("removed", "removed"),
        (UF, "upstream_failed"),
        (None, "not run"),
    ],
)
def test_the_checks_fail_closed(state, expected):
    plan = planned(restore_database=True, restore_efs=True, check_application=True)
    assert checks_not_passed(plan, {"check_application": state}) == expected
    assert checks_not_passed(plan, {}) == "not run"  # no task: shaped before checks existed
    unchecked = planned(restore_database=True, restore_efs=True)
    assert checks_not_passed(unchecked, {"check_application": state}) is None


# --- a DataSync copy into the live file system: the clean-up waits for it too ---------------


@pytest.fixture
def live_copy(sandbox, monkeypatch):
    """An in-place DataSync copy into ue-backup-restoring_<id>/ of the live file system on the
    sandbox; returns (settings, start: starts an execution and returns its ARN)."""
    from sandbox.faults import Fault

    monkeypatch.setenv("UE_BACKUP_POLL_SECONDS", "0.05")
    aws = sandbox.aws
    aws.durations.update(datasync_execution=2)  # still running when the test first looks
    live, target = aws.create_file_system("live"), aws.create_file_system("copies")
    (aws.efs_path(target) / "set-1").mkdir()
    (aws.efs_path(target) / "set-1" / "data.txt").write_text("the set's")
    efs, datasync = sandbox.client("efs"), sandbox.client("datasync")
    ec2 = {
        "SubnetArn": "arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-1",
        "SecurityGroupArns": ["arn:aws:ec2:eu-west-1:123456789012:security-group/sg-1"],
    }

    def location(fs_id: str, folder: str) -> str:
        arn = efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["FileSystemArn"]
        return datasync.create_location_efs(
            EfsFilesystemArn=arn, Ec2Config=ec2, Subdirectory=folder
        )["LocationArn"]

    rid = "ue-test-r260101000000"
    task = datasync.create_task(
        SourceLocationArn=location(target, "/set-1"),
        DestinationLocationArn=location(live, f"/ue-backup-restoring_{rid}"),
    )["TaskArn"]
    settings = restore_settings(
        region=datasync.meta.region_name, efs_file_system_id=live, restore_id=rid
    )

    def start(never=False):
        if never:
            sandbox.faults.add(Fault("datasync", "StartTaskExecution", kind="never"))
        return datasync.start_task_execution(TaskArn=task)["TaskExecutionArn"]

    return settings, start


def test_the_clean_up_waits_for_a_copy_still_writing(live_copy):
    from ue_backup.tasks.restore_commit import wait_for_copy_end

    settings, start = live_copy

    assert wait_for_copy_end(settings, start(), timeout_seconds=10) == "SUCCESS"


def test_the_clean_up_gives_up_naming_the_copy_and_its_directory(live_copy):
    from ue_backup.tasks.restore_commit import wait_for_copy_end

    settings, start = live_copy
    execution = start(never=True)

    with pytest.raises(TimeoutError) as failure:
        wait_for_copy_end(settings, execution, timeout_seconds=0.3)
    message = str(failure.value)
    assert f"the DataSync copy {execution} is" in message
    assert f"ue-backup-restoring_{settings.restore_id}/ on the live file system" in message
    assert "nothing was removed" in message


def test_what_a_datasync_restore_stopped_before_its_commit_leaves_over():
    """Its staged tree on the live file system, and its own DataSync task while the copy
    was not released; never an aws-backup-restore_ directory (there is no job)."""
    from ue_backup.tasks.restore_commit import left_over

    run = restore_settings()
    plan = RestorePlanResult.model_validate(
        {
            "plan": {},
            "region": "eu-west-1",
            **restore_steps(restore_efs=True, copy_efs=True, recovery_point_arn=None),
        }
    )
    states = {"restore_efs": S, "copy_efs": S, "wait_efs_copy": F, "release_efs_copy": UF}
    left = left_over(run, plan, states)
    assert len(left) == 2
    assert "ue-backup-restoring_r/" in left[0]
    assert "aws-backup-restore_" not in left[0]
    assert "DataSync task ue-backup-restore-r " in left[1]
    released = {**states, "wait_efs_copy": S, "release_efs_copy": S, "discard_restored_tree": S}
    assert left_over(run, plan, released) == []
