"""Open and close the cold backup window: suspend and resume EC Deployments.

Suspend is the backup DAG's setup task, resume its teardown. Both work from
the cluster's state (annotations on the ECDs), so either can be retried, run
on another worker, or replaced by the watchdog after a crash.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from ue_backup.cold_window import BROKEN, INTACT, UNPROVEN, judge, mark

if TYPE_CHECKING:  # imported when used: a DAG parse never loads the Kubernetes client
    from ue_backup.hooks.ecd import EcdHook


class _EcdOperator(BaseOperator):
    """The hook and the namespace every ECD operator works in."""

    def __init__(
        self,
        *,
        namespace: str,
        kubernetes_conn_id: str = "kubernetes_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.namespace = namespace
        self.kubernetes_conn_id = kubernetes_conn_id

    @property
    def hook(self) -> EcdHook:
        from ue_backup.hooks.ecd import EcdHook

        return EcdHook(conn_id=self.kubernetes_conn_id)


class EcdSuspendOperator(_EcdOperator):
    """Switch the selected ECDs off (``spec.enabled: false``), all or nothing.

    Each ECD records ``suspended_by`` (the backup-set or restore id), its previous state and a
    resume deadline of ``max_window_minutes`` from now. If one fails, those
    already suspended are resumed before the task fails: a failed setup task
    does not run its teardown. Returns ``{"suspended": [...], "selected": [...],
    "window_start", "resume_deadline"}``: ``selected`` is every ECD of the
    selection, which the drain waits for (an ECD disabled just before the run may
    still have pods writing to EFS), ``suspended`` those this run switched off.

    With ``active`` false (a hot backup, or a window the platform manages)
    it suspends nothing and says so. It must still succeed rather than skip:
    Airflow skips every task in the scope of a skipped setup task.

    ``platform`` (``{"kind", "name"}``, a Derby installation's
    ``database.derby.platform``): the workload that writes Derby is scaled to
    zero after the ECDs, recorded the same way (``hooks.derby_platform``), all or
    nothing with them. ``drain`` is what the drain waits for: the selected
    ECDs, and the platform as ``<kind>/<name>``.
    """

    template_fields = (
        "namespace",
        "suspended_by",
        "label_selector",
        "names",
        "max_window_minutes",
        "kubernetes_conn_id",
        "active",
        "platform",
    )

    def __init__(
        self,
        *,
        suspended_by: str,
        label_selector: str | None = None,
        names: list[str] | None = None,
        max_window_minutes: int | str = 60,
        active: bool | str = True,
        platform: dict[str, str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.platform = platform
        self.suspended_by = suspended_by
        self.active = active
        self.label_selector = label_selector
        self.names = names or []
        self.max_window_minutes = max_window_minutes

    def execute(self, context: Any) -> dict[str, Any]:
        if self.active in (False, "False", "false", None, ""):
            self.log.info("No managed cold window in this run: nothing to suspend")
            return {
                "suspended": [],
                "selected": [],
                "drain": [],
                "already_disabled": [],
                "window_start": None,
            }
        owner = self.suspended_by
        hook = self.hook
        ecds = hook.select_ecds(self.namespace, self.label_selector, self.names)
        names = [e["metadata"]["name"] for e in ecds]
        window_start = datetime.now(UTC)
        deadline = window_start + timedelta(minutes=float(self.max_window_minutes))
        self.log.info(
            "Suspending %d ECD(s) in %s for %s: %s", len(names), self.namespace, owner, names
        )
        run = f"{context['dag'].dag_id}/{context['run_id']}"
        held = hook.suspend(self.namespace, names, owner, deadline, run)
        platform = platform_of(self.platform)
        stopped = self.stop_platform(platform, held, deadline, run) if platform else False
        skipped = sorted(set(names) - set(held))
        if skipped:
            self.log.warning(
                "Left alone (disabled before this run, not ours to resume): %s", skipped
            )
        self.log.info("Cold window open at %s; resume deadline %s", window_start, deadline)
        # Read again after switching: the generations the window's close is judged against.
        opened = hook.select_ecds(self.namespace, self.label_selector, self.names)
        return {
            "suspended": held,
            "selected": names,
            "drain": [*names, *([workload_label(platform)] if platform else [])],
            "platform": {**platform, "stopped": stopped} if platform else None,
            "ecds": mark(opened),
            "mode": "managed",
            "namespace": self.namespace,
            "label_selector": self.label_selector,
            "names": self.names,
            "already_disabled": skipped,
            "window_start": window_start.isoformat(),
            "resume_deadline": deadline.isoformat(),
        }

    def stop_platform(
        self, platform: dict[str, str], held: list[str], deadline: datetime, run: str
    ) -> bool:
        """Scale Derby's writer to zero; if that fails, resume the ECDs first, then fail."""
        from ue_backup.hooks.derby_platform import PlatformHook

        kind, name = platform["kind"], platform["name"]
        self.log.info("Scaling the platform %s %s/%s to zero", kind, self.namespace, name)
        hook = PlatformHook(conn_id=self.kubernetes_conn_id)
        try:
            return hook.suspend(self.namespace, kind, name, self.suspended_by, deadline, run)
        except Exception as error:
            self.log.error("Stopping the platform failed (%s): resuming ECDs %s", error, held)
            # The scale-down may have been applied with its answer lost: undone too, or the
            # workflows would run without their platform until the watchdog's deadline.
            try:
                platform_now = hook.resume(self.namespace, kind, name, self.suspended_by)
            except Exception as undo_error:
                platform_now = f"could not be checked ({undo_error})"
            undo = self.hook._resume_all(self.namespace, held, self.suspended_by)
            detail = f"; resuming them also failed for {undo}" if undo else ""
            raise RuntimeError(
                f"scaling the platform {kind} {self.namespace}/{name} to zero failed: {error}; "
                f"the {len(held)} ECD(s) suspended before it were resumed{detail}; the "
                f"platform: {platform_now}"
            ) from error


def platform_of(value: Any) -> dict[str, str] | None:
    """The ``{"kind", "name"}`` of the platform workload, None without one."""
    if isinstance(value, dict) and value.get("name"):
        return {"kind": str(value["kind"]), "name": str(value["name"])}
    return None


def workload_label(platform: dict[str, str]) -> str:
    """How the drain names the platform (an ECD name never holds a '/')."""
    return f"{platform['kind']}/{platform['name']}"


def resume_platform(
    conn_id: str, namespace: str, platform: Any, owners: list[str], log: Any
) -> dict[str, str]:
    """Scale the platform back for whichever of ``owners`` holds it: ``{label: outcome}``."""
    workload = platform_of(platform)
    if not workload:
        return {}
    from ue_backup.hooks.derby_platform import PlatformHook

    hook = PlatformHook(conn_id=conn_id)
    outcomes = {}
    for owner in filter(None, owners):
        outcome = hook.resume(namespace, workload["kind"], workload["name"], owner)
        if outcome != "not-ours":
            outcomes[workload_label(workload)] = outcome
            log.info("Platform %s: %s", workload_label(workload), outcome)
    return outcomes


class EcdResumeOperator(_EcdOperator):
    """Switch back on exactly the ECDs the ``owners`` suspended (the window's teardown).

    Finds them by their annotations, not by the selection, so it also repairs
    a half-finished suspension. A second run is a no-op; an ECD somebody
    re-enabled meanwhile is left as it is. Several owners serve a restore:
    its own suspension, and the backup set's, which Velero brought back on
    the restored ECDs. Returns ``{"outcomes", "window_end", "window"}``.

    ``windows``: the records of the window's opening (the suspend task's, or in
    external mode the window check's); the first that recorded ECDs is judged
    (``cold_window.judge``) before anything is resumed, since it runs once
    every copy has completed. ``window`` is that verdict, None without a record.
    """

    template_fields = ("namespace", "owners", "kubernetes_conn_id", "windows", "platform")

    def __init__(
        self,
        *,
        owners: list[str] | str,
        windows: list[Any] | str | None = None,
        platform: dict[str, str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.owners = owners
        self.windows = windows
        self.platform = platform

    def judge_window(self, owners: list[str]) -> dict[str, Any] | None:
        """The cold window's verdict, judged on the cluster as it is now (before resuming)."""
        records = self.windows if isinstance(self.windows, list) else [self.windows]
        opened = next((r for r in records if isinstance(r, dict) and "ecds" in r), None)
        if opened is None:
            return None
        hook, namespace = self.hook, opened.get("namespace") or self.namespace
        names = opened.get("names") or []
        found = hook.list_ecds(namespace, None if names else opened.get("label_selector"))
        now = [e for e in found if not names or e["metadata"]["name"] in names]
        # A retry after a partial resume: what an earlier try resumed changed by our own
        # hand and cannot be judged again, and that try's verdict is lost with its XCom.
        ours = {s.name for owner in owners for s in hook.suspensions(namespace, owner)}
        resumed = set(opened.get("suspended") or ()) - ours
        record = {**opened, "ecds": {k: v for k, v in opened["ecds"].items() if k not in resumed}}
        now = [e for e in now if e["metadata"]["name"] not in resumed]
        names_now = sorted({*record["ecds"], *(e["metadata"]["name"] for e in now)})
        until = opened.get("until")
        verdict = judge(
            record,
            now,
            hook.running(namespace, names_now),
            datetime.now(UTC),
            datetime.fromisoformat(until) if until else None,
        )
        if resumed:
            verdict["state"] = UNPROVEN
            verdict["problems"].append(
                f"ECDs {sorted(resumed)} were resumed by an earlier try of this task, whose "
                "verdict was lost with it: the window cannot be proven any more"
            )
        for problem in verdict["problems"]:
            self.log.error("COLD WINDOW %s: %s", verdict["state"].upper(), problem)
        if not verdict["problems"]:
            self.log.info(
                "Cold window intact: %d ECD(s) stayed stopped from %s to %s",
                len(record["ecds"]),
                verdict["start"],
                verdict["closed_at"],
            )
        return verdict

    def judge_platform(self, window: dict[str, Any] | None, owners: list[str]) -> None:
        """Add Derby's writer to the window's verdict: stopped from its opening until now.

        Broken when it runs again (replicas or pods) before the teardown scales it back;
        unproven when its scale-down is no longer recorded (an earlier try of this task
        scaled it back, whose verdict was lost, or somebody removed the record).
        """
        records = self.windows if isinstance(self.windows, list) else [self.windows]
        opened = next((r for r in records if isinstance(r, dict) and r.get("platform")), None)
        if window is None or opened is None:
            return
        workload = opened["platform"]
        kind, name = workload["kind"], workload["name"]
        from ue_backup.hooks.derby_platform import PlatformHook

        hook = PlatformHook(conn_id=self.kubernetes_conn_id)
        held = hook.suspension(self.namespace, kind, name)
        label = workload_label(workload)
        if workload.get("stopped") and not (held and held.owner in owners):
            if window["state"] == INTACT:
                window["state"] = UNPROVEN
            window["problems"].append(
                f"platform {label}: its scale-down by this window is no longer recorded (an "
                "earlier try of this task scaled it back, or somebody removed it): Derby's "
                "stop cannot be proven"
            )
            return
        running = hook.running(self.namespace, kind, name)
        scaled = held.replicas_now if held else hook.replicas_of(self.namespace, kind, name)
        if scaled or running:
            window["state"] = BROKEN
            window["problems"].append(
                f"platform {label} ran during the window (spec.replicas {scaled}, pods "
                f"{running}): Derby may have been written while it was copied"
            )
        for problem in window["problems"]:
            if problem.startswith(f"platform {label}"):
                self.log.error("COLD WINDOW %s: %s", window["state"].upper(), problem)

    def execute(self, context: Any) -> dict[str, Any]:
        owners = [self.owners] if isinstance(self.owners, str) else list(self.owners or [])
        window = self.judge_window(owners)
        self.judge_platform(window, owners)
        outcomes: dict[str, str] = {}
        failed: Exception | None = None
        try:  # the platform first: the workflows need it; the ECDs are resumed whatever it did
            outcomes.update(
                resume_platform(
                    self.kubernetes_conn_id, self.namespace, self.platform, owners, self.log
                )
            )
        except Exception as error:
            self.log.error("Scaling the platform back failed: %s", error)
            failed = error
        for owner in filter(None, owners):
            outcomes.update(self.hook.resume(self.namespace, owner))
        if failed:
            raise failed
        window_end = datetime.now(UTC)
        for name, outcome in sorted(outcomes.items()):
            self.log.info("ECD %s: %s", name, outcome)
        if not outcomes:
            self.log.info("No ECD is suspended by %s: nothing to resume", owners)
        return {"outcomes": outcomes, "window_end": window_end.isoformat(), "window": window}
