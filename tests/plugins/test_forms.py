"""The trigger forms refuse mistakes before a run starts (issue 19).

Checked on the DAGs as the API server holds them: parsed with a configuration
file (so the installation's name is known at parse time), serialized as the
DAG processor sends them, deserialized, and their params merged with a
form's values and validated exactly as ``create_dagrun`` does before it
creates a run. A value refused here is a 400 in the form, with no run.
"""

from __future__ import annotations

import functools

import pytest
import yaml

from tests.plugins.test_config import VALID

INSTALLATION = VALID["installation"]


@functools.cache
def served_params(tmp: str) -> dict:
    """Each DAG's params as the API server deserializes them, parsed with VALID's file."""
    from pathlib import Path

    import structlog
    from airflow.dag_processing.processor import _serialize_dags
    from airflow.serialization.serialized_objects import DagSerialization

    from sandbox.airflow_harness.dag_runner import parse_shaped

    path = Path(tmp) / "installation.yaml"
    path.write_text(yaml.safe_dump(VALID))
    serialized, errors = _serialize_dags(parse_shaped(path), structlog.get_logger())
    assert not errors, errors
    return {d.dag_id: DagSerialization.from_dict(d.data).params for d in serialized}


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    return served_params(str(tmp_path_factory.mktemp("forms")))


def refusal(params, dag_id: str, conf: dict) -> str | None:
    """What the server says of a form's values: None when it would create the run."""
    from airflow.exceptions import ParamValidationError

    try:
        params[dag_id].deep_merge(conf).validate()
    except ParamValidationError as error:
        return str(error)
    return None


@pytest.mark.parametrize(
    "conf",
    [
        {},
        {"target": "in_place", "mode": "restore"},
        {"target": "in_place", "mode": "restore", "confirm": INSTALLATION},
        {"target": "in_place", "mode": "restore", "confirm": ""},
        {"components": ["database", "efs"]},
        {"request_type": "point_in_time", "target_time": "2026-12-01T02:00:00+00:00"},
    ],
    ids=[
        "defaults",
        "in-place-for-approval",
        "approved-ahead",
        "confirm-empty",
        "components",
        "point-in-time",
    ],
)
def test_the_restore_form_accepts_what_a_restore_can_do(params, conf):
    assert refusal(params, "ue_restore", conf) is None


@pytest.mark.parametrize(
    ("conf", "field"),
    [
        ({"target": "in_place", "mode": "restore", "confirm": "ue-other"}, "confirm"),
        ({"confirm": f"{INSTALLATION}x"}, "confirm"),
        ({"components": ["foo"]}, "components"),
        ({"components": ["efs", "efs"]}, "components"),
        ({"mode": "go"}, "mode"),
    ],
    ids=["wrong-name", "name-plus", "unknown-component", "twice", "unknown-mode"],
)
def test_the_restore_form_refuses_mistakes_naming_the_field(params, conf, field):
    refused = refusal(params, "ue_restore", conf)
    assert refused is not None
    assert field in refused, refused


def test_the_backup_form_needs_nothing_and_refuses_an_unknown_component(params):
    assert refusal(params, "ue_backup", {}) is None  # reason optional: Trigger never greyed
    assert refusal(params, "ue_backup", {"reason": None, "components": ["efs"]}) is None
    assert "components" in (refusal(params, "ue_backup", {"components": ["foo"]}) or "")
    assert "components" in (refusal(params, "ue_backup", {"components": ["database"]}) or "")
    assert refusal(params, "ue_backup", {"components": ["database", "efs"]}) is None


def test_every_restore_field_is_explained_in_a_section_with_readable_choices(params):
    form = params["ue_restore"]
    schemas = {name: form.get_param(name).schema for name in form}
    for name, schema in schemas.items():
        assert form.get_param(name).description, name
        assert schema.get("section"), name
        if "enum" in schema:
            assert set(schema["values_display"]) == set(schema["enum"]), name
    # components: a multi-select of the valid values (an array with examples, in the UI)
    assert schemas["components"]["examples"] == schemas["components"]["items"]["enum"]
    assert INSTALLATION in schemas["confirm"]["title"]
