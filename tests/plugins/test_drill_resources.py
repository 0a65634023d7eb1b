"""The drill cleanup's states, as the task log shows them."""

from __future__ import annotations

from ue_backup.drill_resources import BUSY, GONE, PRESENT, RESTORED_RESOURCES, State, summary
from ue_backup.kube_names import ECD_GROUP, ECD_PLURAL


def test_a_state_names_its_reason_when_it_has_one():
    assert str(State(GONE)) == "gone"
    assert str(State(BUSY, "deleting")) == "busy (deleting)"


def test_the_summary_aligns_the_names():
    states = {"rds instance": State(PRESENT, "db is available"), "efs jobs": State(GONE)}

    assert summary(states) == "rds instance  present (db is available)\nefs jobs      gone"
    assert summary({}) == ""


def test_the_drill_restores_its_ecds_and_no_pods_or_secrets():
    plurals = {plural for _, _, plural in RESTORED_RESOURCES}

    assert (ECD_GROUP, ECD_PLURAL) in {(group, plural) for group, _, plural in RESTORED_RESOURCES}
    assert not plurals & {"pods", "jobs", "secrets", "persistentvolumeclaims"}
