"""The catalog's FastAPI app with Airflow's own authentication: who sees what.

Real tokens from the auth manager the tests' Airflow is configured with
(the simple auth manager: a ``viewer`` may read every DAG's runs, a ``user``
may also trigger them), sent as the UI sends them (its ``_token`` cookie) or
as a bearer token; the catalog is one built from retention's inventories
(``tests.plugins.test_catalog``). The plugin inside a real api-server app is
``test_the_api_server_mounts_the_catalog_and_lists_its_view``.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.plugins.test_catalog import T0, catalog_of, world  # noqa: F401 (a fixture)
from ue_backup.catalog import CATALOG_VARIABLE, STALE_AFTER
from ue_backup.planning import plan_restore

NOW = T0 + timedelta(days=2, hours=1, minutes=3)


@pytest.fixture(scope="module")
def auth():
    from airflow.api_fastapi.app import create_auth_manager

    manager = create_auth_manager()
    manager.init()
    return manager


def token(auth, role: str, name: str | None = None) -> str:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return auth.generate_jwt(SimpleAuthManagerUser(username=name or role, role=role))


@pytest.fixture
def catalog(world):  # noqa: F811 (the fixture imported above)
    world, sets = world
    return catalog_of(world), world, sets


@pytest.fixture
def client(auth, catalog):
    """The app, with Airflow's auth manager initialised (as the api-server has it before
    any request): a test run alone on an xdist worker would otherwise meet none."""
    from ue_backup.ui.catalog_api import create_app

    return TestClient(create_app(load=lambda: catalog[0], clock=lambda: NOW))


def as_(auth, role: str) -> dict:
    return {"cookies": {"_token": token(auth, role)}}


ROUTES = ("/", "/api/catalog", "/api/plan", "/restore?request_type=latest")


@pytest.mark.parametrize("route", ROUTES)
def test_an_anonymous_request_is_refused(auth, client, route):
    answer = client.get(route)
    assert answer.status_code == 401
    assert answer.json() == {"detail": "Not authenticated"}


@pytest.mark.parametrize("route", ROUTES)
def test_a_forged_token_is_refused(client, route):
    answer = client.get(route, cookies={"_token": "eyJhbGciOiJIUzUxMiJ9.e30.forged"})
    assert answer.status_code == 403


def test_a_viewer_reads_the_catalog_but_never_sees_the_restore_action(auth, client, catalog):
    _, _, sets = catalog
    page = client.get("/", **as_(auth, "viewer"))
    assert page.status_code == 200
    assert 'data-testid="rpo-status"' in page.text
    assert 'data-region="eu-west-1" data-in-breach="false"' in page.text
    assert f'data-set-id="{sets[2]}" id="newest-set" data-newest="true"' in page.text
    assert 'data-testid="restore-action"' not in page.text
    planned = client.get("/?request_type=latest", **as_(auth, "viewer"))
    assert 'data-testid="plan-table"' in planned.text
    assert 'data-testid="restore-action"' not in planned.text
    assert client.get("/restore?request_type=latest", **as_(auth, "viewer")).status_code == 403
    assert "conf" not in client.get("/api/plan", **as_(auth, "viewer")).json()
    assert client.get("/api/catalog", **as_(auth, "viewer")).json()["may_restore"] is False


def test_a_user_who_may_trigger_ue_restore_sees_the_restore_action(auth, client, catalog):
    _, _, sets = catalog
    page = client.get(f"/?request_type=backup_set&backup_set={sets[1]}", **as_(auth, "user"))
    actions = re.findall(r'data-testid="restore-action" href="([^"]+)"', page.text)
    # the plan panel's, and one per restorable set (the failed newest one has none)
    assert len(actions) == 1 + 2
    assert actions[0] == (
        f"restore?request_type=backup_set&amp;allow_point_in_time_restore=true&amp;"
        f"allow_unverified=false&amp;mode=restore&amp;source=home&amp;backup_set={sets[1]}"
    )
    restore = client.get(actions[0].replace("&amp;", "&"), **as_(auth, "user"))
    assert restore.status_code == 200
    shown = re.search(r'data-testid="restore-conf">([^<]+)</pre>', restore.text).group(1)
    assert json.loads(shown.replace("&quot;", '"')) == {
        "allow_point_in_time_restore": True,
        "allow_unverified": False,
        "backup_set": sets[1],
        "mode": "restore",
        "request_type": "backup_set",
        "source": "home",
    }
    assert 'data-testid="open-trigger-form" href="../dags/ue_restore"' in restore.text
    assert client.get("/api/catalog", **as_(auth, "user")).json()["may_restore"] is True


def test_every_request_asks_the_auth_manager_about_the_right_dag(auth, client, monkeypatch):
    asked = []

    def is_authorized_dag(*, method, user, access_entity=None, details=None):
        asked.append((method, access_entity.value, details.id, user.get_name()))
        return method == "GET"

    monkeypatch.setattr(auth, "is_authorized_dag", is_authorized_dag)
    client.get("/", **as_(auth, "admin"))
    assert asked == [
        ("GET", "RUN", "ue_backup_rpo", "admin"),
        ("POST", "RUN", "ue_restore", "admin"),
    ]
    monkeypatch.setattr(auth, "is_authorized_dag", lambda **_: False)
    refused = client.get("/", **as_(auth, "admin"))
    assert refused.status_code == 403
    assert "ue_backup_rpo" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("query", "request_"),
    [
        ("request_type=latest", {"type": "latest"}),
        ("request_type=backup_set&backup_set={set}", {"type": "backup_set"}),
        (
            "request_type=point_in_time&target_time=2026-01-02T00:30:00Z",
            {"type": "point_in_time", "target_time": "2026-01-02T00:30:00+00:00"},
        ),
    ],
)
def test_the_panel_shows_the_planners_table_for_latest_a_set_and_a_point_in_time(
    auth, client, catalog, query, request_
):
    _, inventories, sets = catalog
    query = query.format(set=sets[0])
    if request_["type"] == "backup_set":
        request_ = {**request_, "backup_set": sets[0]}
    expected = plan_restore(inventories.view, request_)
    answer = client.get(f"/api/plan?{query}", **as_(auth, "viewer")).json()
    assert answer["plan"] == expected
    page = client.get(f"/?{query}", **as_(auth, "viewer")).text
    rows = re.findall(
        r'data-testid="plan-row" data-component="(\w+)"><td>\w+</td><td>([^<]*)</td>'
        r"<td>([^<]*)</td>",
        page,
    )
    database = expected["database"]
    source = (
        f"snapshot {database['snapshot_id']}"
        if database["kind"] == "snapshot"
        else f"point-in-time restore at {database['restore_time']}"
    )
    assert rows[0] == ("database", source, database["time"])
    assert rows[1] == ("efs", expected["disk"]["recovery_point_arn"], expected["disk"]["time"])
    assert f'data-testid="plan-backup-set-chosen">{expected["backup_set"]}<' in page


def test_a_refused_plan_and_a_bad_choice_are_said_in_words(auth, client, catalog):
    _, _, sets = catalog
    page = client.get(f"/?request_type=backup_set&backup_set={sets[2]}", **as_(auth, "user")).text
    assert f"No consistent restore: backup set {sets[2]} failed its verification" in page
    assert 'data-testid="plan-table"' not in page
    bad = client.get("/api/plan?request_type=point_in_time&target_time=soon", **as_(auth, "user"))
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("invalid choice: target_time: 'soon'")
    page = client.get("/?request_type=point_in_time&target_time=soon", **as_(auth, "user")).text
    assert "Refused: target_time: &#x27;soon&#x27;" in page


def test_the_page_says_how_old_the_catalog_is_and_when_it_is_stale(auth, catalog):
    from ue_backup.ui.catalog_api import create_app

    fresh = TestClient(create_app(load=lambda: catalog[0], clock=lambda: NOW))
    page = fresh.get("/", **as_(auth, "viewer")).text
    assert f'datetime="{catalog[0]["as_of"]}"' in page
    assert "(3 minutes ago)" in page
    assert 'data-testid="catalog-stale"' not in page
    late = NOW + STALE_AFTER
    stale = TestClient(create_app(load=lambda: catalog[0], clock=lambda: late))
    assert 'data-testid="catalog-stale"' in stale.get("/", **as_(auth, "viewer")).text


def test_before_the_first_refresh_the_page_says_where_the_catalog_comes_from(auth):
    from ue_backup.ui.catalog_api import create_app

    empty = TestClient(create_app(load=lambda: None, clock=lambda: NOW))
    assert 'data-testid="catalog-missing"' in empty.get("/", **as_(auth, "viewer")).text
    assert empty.get("/api/catalog", **as_(auth, "viewer")).status_code == 404


def test_the_api_server_mounts_the_catalog_and_lists_its_view(auth, catalog):
    """The plugin as the api-server loads it: found in the plugins folder, mounted, the
    catalog read from the metadata database, the view in the UI's plugin list."""
    from airflow.api_fastapi.app import create_app
    from airflow.models.variable import Variable

    Variable.set(CATALOG_VARIABLE, json.dumps(catalog[0]))
    try:
        server = TestClient(create_app())
        assert server.get("/ue-backup-catalog/").status_code == 401
        page = server.get("/ue-backup-catalog/", **as_(auth, "viewer"))
        assert page.status_code == 200
        assert f"Backup catalog: {catalog[0]['installation']}" in page.text
        plugins = server.get("/api/v2/plugins", **as_(auth, "admin")).json()["plugins"]
        [ours] = [p for p in plugins if p["name"] == "ue_backup_catalog"]
        assert ours["external_views"][0]["href"] == "ue-backup-catalog/"
        assert ours["external_views"][0]["url_route"] == "backup-catalog"
    finally:
        Variable.delete(CATALOG_VARIABLE)
