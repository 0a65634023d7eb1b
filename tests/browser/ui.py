"""What the browser tests do in the Airflow UI, by what an operator sees: roles, labels, text.

Chromium is Debian's (``make chromium``), driven by Playwright's driver from its
wheel; no browser is ever downloaded (the Makefile sets
``PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD`` and nothing runs ``playwright install``).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from playwright.sync_api import FrameLocator, Locator, Page, expect

from sandbox.airflow_harness.stack import AirflowStack

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "build" / "browser"
VIEWPORT = {"width": 1400, "height": 1000}
RUN_TIMEOUT_MS = 300_000  # a backup in the sandbox takes about 25 s, a plan less


def shot(page: Page, name: str, full_page: bool = False, height: int | None = None) -> Path:
    """The step's screenshot, ``build/browser/<name>.png``: what the step claims, to look at.

    ``height``: taken in a window this high, for a page or dialog that scrolls inside
    itself (a full-page screenshot shows only what its own box shows). Animations are
    finished first: a dialog still fading in would be half transparent.
    """
    path = SHOTS / f"{name}.png"
    if height:
        page.set_viewport_size({**VIEWPORT, "height": height})
    try:
        page.screenshot(path=path, full_page=full_page, animations="disabled")
    finally:
        page.set_viewport_size(VIEWPORT)
    return path


def sign_in(page: Page, stack: AirflowStack, user: str, then: str = "/") -> None:
    """Through the simple auth manager's login page, with the password Airflow generated."""
    page.goto(f"{stack.url}{then}")
    expect(page).to_have_url(re.compile(r"/auth/login"))
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(stack.password(user))


def submit_sign_in(page: Page, stack: AirflowStack, then: str = "/") -> None:
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{stack.url}{then}")


def open_catalog(page: Page) -> FrameLocator:
    """Browse, Backup catalog: the catalog plugin's page, framed inside the UI."""
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Backup catalog").click()
    expect(page).to_have_url(re.compile(r"/plugin/backup-catalog"))
    return page.frame_locator("iframe").first


def open_run_summary(page: Page) -> FrameLocator:
    """The run page's "ue-backup summary" tab: what the run did, framed inside the UI."""
    page.get_by_role("tab", name="ue-backup summary").or_(
        page.get_by_role("link", name="ue-backup summary")
    ).first.click()
    return page.frame_locator("iframe").first


def open_trigger_form(page: Page, stack: AirflowStack, dag_id: str) -> Locator:
    """The DAG's page, its Trigger button; returns the form's dialog."""
    page.goto(f"{stack.url}/dags/{dag_id}")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=f"Trigger Dag - {dag_id}")).to_be_visible()
    return dialog


def param(dialog: Locator, key: str) -> Locator:
    """The form's input for the DAG's Param ``key``: what the form submits for it.

    Found by the Param's key (the form names each input ``element_<key>``), which the
    REST API and scripts rely on too; its title and labels are free to change. (Airflow's
    labels point at other ids than their inputs', so a text field has no accessible name.)
    """
    return dialog.locator(f"[name=element_{key}]")


def open_section(dialog: Locator, name: str) -> None:
    """Unfold a section of the form (the Params' ``section``); one is open at a time."""
    header = dialog.get_by_role("button", name=name, exact=True)
    if header.get_attribute("aria-expanded") != "true":
        header.click()


def choose(dialog: Locator, key: str, *options: re.Pattern[str], values: list[str]) -> None:
    """Pick options of an enum Param (or of an array's multi-select) by what they read.

    What an option reads (its ``values_display`` label) may change; what the form
    submits for the Param must be ``values``.
    """
    for option in options:
        dialog.locator(f"#element_{key}").get_by_role("combobox").click()
        dialog.page.get_by_role("option", name=option).click()
    expect(param(dialog, key)).to_have_count(len(values))
    assert [field.input_value() for field in param(dialog, key).all()] == values


def submit_trigger(page: Page, dialog: Locator, dag_id: str) -> str:
    """The form's Trigger button; the UI opens the new run's page. Returns its run id."""
    dialog.get_by_role("button", name="Trigger").click()
    expect(page).to_have_url(re.compile(rf"/dags/{dag_id}/runs/[^/]+$"))
    return unquote(page.url.rsplit("/runs/", 1)[1])


def run_state(page: Page, run_id: str) -> Locator:
    """The state badge beside the run's heading on its page."""
    heading = page.get_by_role("heading", name=run_id, exact=True)
    return heading.locator("xpath=..").get_by_test_id("state-badge")


def wait_finished(page: Page, stack: AirflowStack, dag_id: str, run_id: str) -> str:
    """Until the run's page shows it finished (the page refreshes itself); its state."""
    badge = run_state(page, run_id)
    expect(badge).to_have_text(re.compile("Success|Failed"), timeout=RUN_TIMEOUT_MS)
    state = badge.inner_text().strip()
    if state != "Success":
        raise AssertionError(
            f"{dag_id} {run_id} shows {state}: {stack.task_states(dag_id, run_id)}"
        )
    # the task list refreshes on a timer of its own: a fresh page shows the run as it ended
    page.reload()
    expect(run_state(page, run_id)).to_have_text("Success", timeout=30_000)
    return state
