"""Run a container's command as a local process: how the sandbox executes Job pods.

There are no images and no mounts, so the container's ``command`` + ``args`` run on
this machine (argv as given; ``sh -c`` scripts work), and every occurrence of a
volume's ``mountPath`` in the argv, the ``env`` values and ``workingDir`` is
rewritten to the local directory that backs the volume. A path is rewritten only
where it stands as a path (``/data`` or ``/data/x``, not ``/database``), longest
mount path first. Scripts that build mount paths at run time (``"/da""ta"``) are
not seen; a ConfigMap-mounted script file is rewritten on disk for the same reason.
Output (stdout and stderr together) becomes the pod's log, with the local
directories turned back into the mount paths, so the log reads as the container's
would. A process is killed
after ``timeout`` seconds, or with its whole process group when the pod is deleted.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from sandbox.k8s.mounts import PodMounts

DEFAULT_TIMEOUT = 300.0  # bounds a pod without activeDeadlineSeconds


def rewrite(text: str, mounts: dict[str, Path]) -> str:
    """``text`` with each mount path, where it stands as a path, replaced by its directory."""
    for mount_path in sorted(mounts, key=len, reverse=True):
        pattern = rf"(?<![\w./-]){re.escape(mount_path)}(?![\w.-])"
        text = re.sub(pattern, lambda _, p=mount_path: str(mounts[p]), text)
    return text


def unrewrite(text: str, mounts: dict[str, Path]) -> str:
    """The inverse of :func:`rewrite`, for the process's output."""
    for mount_path, local in sorted(mounts.items(), key=lambda m: len(str(m[1])), reverse=True):
        text = text.replace(str(local), mount_path)
    return text


def _rewrite_scripts(mounts: PodMounts) -> None:
    """Rewrite mount paths inside the files of ConfigMap volumes (the pod's own copies)."""
    for mount_path in mounts.config_maps:
        for file in mounts.paths[mount_path].rglob("*"):
            if file.is_file():
                mode = file.stat().st_mode
                file.chmod(mode | 0o200)
                file.write_text(rewrite(file.read_text(), mounts.paths))
                file.chmod(mode)


class PodProcess:
    """One container's command, started at construction, watched by a thread."""

    def __init__(
        self, container: dict[str, Any], mounts: PodMounts, scratch: Path, timeout: float
    ) -> None:
        paths = mounts.paths
        argv = [
            rewrite(part, paths)
            for part in (container.get("command") or []) + (container.get("args") or [])
        ]
        if not argv:
            raise ValueError(
                "the sandbox runs explicit container commands only (no image entrypoints)"
            )
        _rewrite_scripts(mounts)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(scratch)}
        env.update(
            {e["name"]: rewrite(e.get("value", ""), paths) for e in container.get("env") or []}
        )
        cwd = (
            rewrite(container["workingDir"], paths) if container.get("workingDir") else str(scratch)
        )
        self._paths = paths
        self.result: tuple[int, str] | None = None
        self.timed_out = False
        self._popen = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,  # a process group, so kill() reaches sh -c children too
        )
        self._thread = threading.Thread(target=self._wait, args=(timeout,), daemon=True)
        self._thread.start()

    def _wait(self, timeout: float) -> None:
        try:
            output, _ = self._popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.timed_out = True
            self.kill()
            output, _ = self._popen.communicate()
        code = self._popen.returncode
        if code < 0:  # killed by a signal: a container reports 128 + signal (137 for SIGKILL)
            code = 128 - code
        self.result = (code, unrewrite(output.decode(errors="replace"), self._paths))

    def poll(self) -> tuple[int, str] | None:
        """``(exit code, output)`` once finished, else None."""
        return self.result

    def kill(self) -> None:
        if self.result is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._popen.pid, signal.SIGKILL)
