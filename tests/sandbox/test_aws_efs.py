"""EFS in the sandbox: each file system's contents are a real local directory."""

from __future__ import annotations

import pytest

from sandbox.aws.fixtures import aws, wait_until  # noqa: F401
from sandbox.aws.network import add_mount_targets


def test_a_file_system_created_through_the_api_gets_an_empty_directory(aws):  # noqa: F811
    efs = aws.client("efs")

    fs_id = efs.create_file_system(CreationToken="data", Tags=[{"Key": "Name", "Value": "d"}])[
        "FileSystemId"
    ]

    path = aws.efs_path(fs_id)
    assert path.is_dir()
    assert path == aws.root / "efs" / fs_id
    assert list(path.iterdir()) == []


def test_size_in_bytes_is_what_the_directory_holds(aws):  # noqa: F811
    fs_id = aws.create_file_system("data", tags={"Name": "disk-data"})
    (aws.efs_path(fs_id) / "sub").mkdir()
    (aws.efs_path(fs_id) / "sub" / "a.bin").write_bytes(b"x" * 1000)
    (aws.efs_path(fs_id) / "b.bin").write_bytes(b"y" * 24)

    [described] = aws.client("efs").describe_file_systems(FileSystemId=fs_id)["FileSystems"]

    assert described["SizeInBytes"]["Value"] == 1024
    assert described["Name"] == "disk-data"
    assert described["LifeCycleState"] == "available"


def test_deleting_a_file_system_deletes_its_contents(aws):  # noqa: F811
    fs_id = aws.create_file_system()
    (aws.efs_path(fs_id) / "file").write_text("gone soon")

    aws.client("efs").delete_file_system(FileSystemId=fs_id)

    assert not (aws.root / "efs" / fs_id).exists()


def test_reset_empties_every_file_system(aws):  # noqa: F811
    fs_id = aws.create_file_system()
    (aws.efs_path(fs_id) / "file").write_text("from an earlier test")

    aws.reset()

    assert aws.client("efs").describe_file_systems()["FileSystems"] == []
    assert list((aws.root / "efs").iterdir()) == []


def test_a_new_mount_target_is_creating_for_its_duration(aws):  # noqa: F811
    aws.durations.update(efs_mount_target=0.3)
    fs_id = aws.create_file_system()
    efs = aws.client("efs")

    add_mount_targets(aws, fs_id, zones=("a",))
    seen = wait_until(
        lambda: efs.describe_mount_targets(FileSystemId=fs_id)["MountTargets"][0]["LifeCycleState"],
        lambda state: state == "available",
    )

    assert seen[0] == "creating"
    with pytest.raises(efs.exceptions.FileSystemInUse):
        efs.delete_file_system(FileSystemId=fs_id)


def test_a_file_system_made_through_the_api_is_creating_and_takes_no_mount_target(aws):  # noqa: F811
    """As EFS: ``creating`` first, and CreateMountTarget refused until it is ``available``."""
    aws.durations.update(efs_file_system=0.3)
    efs = aws.client("efs")
    network = add_mount_targets(aws, aws.create_file_system("live"), zones=("a",))

    made = efs.create_file_system(CreationToken="new", Encrypted=True)
    fs_id = made["FileSystemId"]

    assert made["LifeCycleState"] == "creating"
    with pytest.raises(efs.exceptions.IncorrectFileSystemLifeCycleState):
        efs.create_mount_target(FileSystemId=fs_id, SubnetId=network["subnets"][0])
    wait_until(
        lambda: efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0],
        lambda described: described["LifeCycleState"] == "available",
    )
    efs.create_mount_target(FileSystemId=fs_id, SubnetId=network["subnets"][0])
    with pytest.raises(efs.exceptions.FileSystemAlreadyExists):
        efs.create_file_system(CreationToken="new")


@pytest.mark.parametrize(
    "arguments",
    [
        {"ThroughputMode": "provisioned"},
        {"ThroughputMode": "bursting", "ProvisionedThroughputInMibps": 10.0},
        {"ThroughputMode": "elastic", "PerformanceMode": "maxIO"},
    ],
    ids=["provisioned-without-mibps", "mibps-without-provisioned", "elastic-maxio"],
)
def test_create_file_system_refuses_what_efs_refuses(aws, arguments):  # noqa: F811
    efs = aws.client("efs")
    with pytest.raises(efs.exceptions.BadRequest):
        efs.create_file_system(CreationToken="bad", **arguments)
    assert efs.describe_file_systems(CreationToken="bad")["FileSystems"] == []
