"""The AWS half of the sandbox: moto on 127.0.0.1, extended where this project needs it.

- ``server``: ``AwsSandbox``, the entry point (start, stop, reset, clients, files).
- ``middleware``, ``protocol``: faults and the mutation log in front of moto.
- ``extensions``: routing moto's services to the sandbox's response classes.
- ``context``, ``progress``: the running sandbox as moto sees it; jobs on the clock.
- ``files``, ``patterns``: EFS contents as directories; DataSync's filters.
- ``backup``, ``backup_jobs``, ``recovery_points``, ``backup_api``: AWS Backup.
- ``efs``, ``rds``, ``memorydb``, ``datasync``: the other services' additions.
- ``kms``: AWS managed keys, and another account's key as its key policy allows (by hand).
- ``fixtures``: pytest fixtures for tests that use it.
"""

from sandbox.aws.server import AwsSandbox

__all__ = ["AwsSandbox"]
