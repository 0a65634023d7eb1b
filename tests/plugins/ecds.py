"""EC Deployments in the sandbox for the ECD tests: seeding and reading back."""

from __future__ import annotations

from tests.plugins.support import OTHER_SET_ID, SET_ID

NS = "uepe"
LABELS = {"app.kubernetes.io/part-of": "usage-engine"}
SELECTOR = "app.kubernetes.io/part-of=usage-engine"
OWNER = SET_ID
OTHER = OTHER_SET_ID
RUN = "ue_backup/scheduled__2025-01-01T00:00:00+00:00"


def seed_ecds(sandbox, **enabled: bool | None) -> list[str]:
    """ECDs named ``ecd-<key>`` (underscores become dashes), labelled as the selection wants."""
    sandbox.durations.update(ecd_drain=0.1, ecd_start=0.05)
    names = []
    for key, on in enabled.items():
        name = f"ecd-{key.replace('_', '-')}"
        sandbox.k8s.create_ecd(NS, name, labels=dict(LABELS), enabled=on)
        names.append(name)
    sandbox.k8s.wait_ecds_settled()
    sandbox.log.clear()
    return names


def enabled(sandbox) -> dict[str, bool | str]:
    """Each ECD's ``spec.enabled``, or ``"absent"`` where the field is not set."""
    return {
        e["metadata"]["name"]: e["spec"].get("enabled", "absent")
        for e in sandbox.k8s.list("ecdeployments", NS)
    }


def ours(sandbox) -> dict[str, dict[str, str]]:
    """The ue-backup annotations on each ECD (empty when none)."""
    return {
        e["metadata"]["name"]: {
            k: v
            for k, v in (e["metadata"].get("annotations") or {}).items()
            if k.startswith("ue-backup/")
        }
        for e in sandbox.k8s.list("ecdeployments", NS)
    }


def switches(sandbox) -> list[tuple[str, bool]]:
    """Every accepted write to an ECD, in order: (name, spec.enabled after it)."""
    return [
        (m.target.rsplit("/", 1)[1], m.detail["enabled"])
        for m in sandbox.log.entries("k8s", "patch")
        if "/ecdeployments/" in m.target
    ]


def untouched(sandbox, *names: str) -> bool:
    return not any(name in names for name, _ in switches(sandbox))
