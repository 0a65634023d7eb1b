"""One step finds the restored file system for the restore and the drill."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.plugins.test_config import CROSS_REGION, VALID
from ue_backup.config import parse_config
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.run_settings import RestoreRunSettings
from ue_backup.tasks import restored_efs
from ue_backup.tasks.restore_steps import restore_names

LIVE, NEW = VALID["efs"]["file_system_id"], "fs-0fedcba9876543210"


def restore_settings(source_region: str | None = None) -> RestoreRunSettings:
    """A restore's settings as validate builds them, from the home or the copy region."""
    cfg = parse_config({**VALID, "cross_region": CROSS_REGION})
    names = restore_names(cfg.installation, datetime(2026, 1, 2, tzinfo=UTC))
    params = {"mode": "restore", "source_region": source_region}
    return RestoreRunSettings.build(cfg, names, {"type": "latest"}, params)


class FakeBackup:
    def __init__(self, created: str) -> None:
        self.created = created

    def describe_restore_job(self, job_id: str) -> dict:
        arn = f"arn:aws:elasticfilesystem:eu-west-1:000000000000:file-system/{self.created}"
        return {"CreatedResourceArn": arn, "CreationDate": datetime(2026, 1, 1, tzinfo=UTC)}


class FakeEfs:
    def __init__(self) -> None:
        self.copied: list[tuple[str, str]] = []

    def copy_mount_targets(self, source: str, target: str) -> list[dict]:
        self.copied.append((source, target))
        return [{"SubnetId": "a"}, {"SubnetId": "b"}]

    def describe_file_system(self, fs_id: str) -> dict:
        return {"LifeCycleState": "available"}


@pytest.fixture
def hooks(monkeypatch):
    made = {"efs": FakeEfs()}

    def settings_hook(cls, settings):
        return made["backup"] if cls is AwsBackupHook else made["efs"]

    monkeypatch.setattr(restored_efs, "settings_hook", settings_hook)
    return made


def test_side_by_side_the_new_file_system_gets_the_live_ones_mount_targets(hooks):
    hooks["backup"] = FakeBackup(NEW)
    found = restored_efs.restored_file_system(restore_settings(), "job-1")
    assert found == {"file_system_id": NEW, "mount_targets": 2}
    assert hooks["efs"].copied == [(LIVE, NEW)]


def test_in_place_the_live_file_system_is_left_as_it_is(hooks):
    hooks["backup"] = FakeBackup(LIVE)
    found = restored_efs.restored_file_system(restore_settings(), "job-1")
    assert found == {"file_system_id": LIVE, "mount_targets": None}
    assert hooks["efs"].copied == []


def test_in_the_copy_region_no_mount_target_is_copied(hooks):
    hooks["backup"] = FakeBackup(NEW)
    settings = restore_settings(source_region=CROSS_REGION["region"])
    assert settings.from_copy
    assert restored_efs.restored_file_system(settings, "job-1")["mount_targets"] is None
    assert hooks["efs"].copied == []


def test_the_drill_refuses_a_restore_into_the_live_file_system(hooks):
    hooks["backup"] = FakeBackup(LIVE)
    with pytest.raises(PermanentFailure, match=f"created {LIVE}, not a new file system"):
        restored_efs.restored_file_system(restore_settings(), "job-1", new_only=True)
    assert hooks["efs"].copied == []


def test_the_drill_learns_the_state_and_the_jobs_times(hooks):
    hooks["backup"] = FakeBackup(NEW)
    found = restored_efs.restored_file_system(restore_settings(), "job-1", new_only=True)
    assert found["state"] == "available"
    assert found["restore_job"] == "job-1"
    assert found["restore_job_created"] == "2026-01-01T00:00:00+00:00"
    assert found["restore_job_completed"] is None


class LiveGoneEfs(FakeEfs):
    """The live file system deleted (after an attack); ``given``: targets made by hand."""

    def __init__(self, given: list[dict] | None = None) -> None:
        super().__init__()
        self.given = given or []
        self.created: list[tuple[str, list[dict]]] = []

    def copy_mount_targets(self, source: str, target: str) -> list[dict]:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "FileSystemNotFound"}}, "DescribeMountTargets")

    def create_mount_targets(self, fs_id: str, recorded: list[dict]) -> list[dict]:
        self.created.append((fs_id, recorded))
        return [{"SubnetId": t["subnet_id"]} for t in recorded]

    def mount_targets(self, fs_id: str) -> list[dict]:
        return self.given


RECORDED = {
    "efs": {
        "mount_targets": [
            {"subnet_id": "subnet-a", "security_group_ids": ["sg-nfs"]},
            {"subnet_id": "subnet-b", "security_group_ids": ["sg-nfs"]},
        ]
    }
}


def immutable_settings() -> RestoreRunSettings:
    return restore_settings().model_copy(update={"from_immutable": True})


def test_from_the_protected_copies_the_live_one_gone_the_recorded_mount_targets_are_made(hooks):
    hooks["backup"], hooks["efs"] = FakeBackup(NEW), LiveGoneEfs()

    found = restored_efs.restored_file_system(
        immutable_settings(), "job-1", recorded_network=RECORDED
    )

    assert found == {"file_system_id": NEW, "mount_targets": 2}
    assert hooks["efs"].created == [(NEW, RECORDED["efs"]["mount_targets"])]


def test_from_the_protected_copies_an_unrecorded_network_fails_unless_targets_were_given(hooks):
    hooks["backup"], hooks["efs"] = FakeBackup(NEW), LiveGoneEfs()
    with pytest.raises(PermanentFailure, match="No Job can mount it"):
        restored_efs.restored_file_system(immutable_settings(), "job-1", recorded_network=None)

    hooks["efs"] = LiveGoneEfs(given=[{"SubnetId": "subnet-by-hand"}])  # then cleared
    found = restored_efs.restored_file_system(immutable_settings(), "job-1")
    assert found["mount_targets"] == 1
    assert hooks["efs"].created == []


class LiveWithoutTargetsEfs(LiveGoneEfs):
    """The live file system is there, its mount targets deleted (by an attacker)."""

    def copy_mount_targets(self, source: str, target: str) -> list[dict]:
        return self.given


def test_a_live_file_system_left_without_mount_targets_gives_way_to_the_recorded_ones(hooks):
    """Outside review: the copy made none, the wait for mount targets passed on an empty
    list, and the purge Job hung until its deadline (4 hours)."""
    hooks["backup"], hooks["efs"] = FakeBackup(NEW), LiveWithoutTargetsEfs()

    found = restored_efs.restored_file_system(
        immutable_settings(), "job-1", recorded_network=RECORDED
    )

    assert found["mount_targets"] == 2
    assert hooks["efs"].created == [(NEW, RECORDED["efs"]["mount_targets"])]


def test_a_home_restore_from_a_live_file_system_without_mount_targets_fails_at_once(hooks):
    hooks["backup"], hooks["efs"] = FakeBackup(NEW), LiveWithoutTargetsEfs()
    with pytest.raises(PermanentFailure, match="has no mount target to copy"):
        restored_efs.restored_file_system(restore_settings(), "job-1")
