"""Links inside the Airflow UI's plugin frame open outside it (ui/frame_links.py).

Airflow 3.1+ frames a plugin page with ``sandbox="allow-scripts allow-same-origin
allow-forms allow-downloads"``: no popups, no top navigation. Here a parent page
frames the run summary page exactly so, both served from one 127.0.0.1 origin as
the api-server serves them, and its console link points at a second 127.0.0.1
server standing in for the AWS console. Clicking it must open a new tab there;
without the script Chromium blocks it (shown failing).
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator

import pytest

from tests.browser.ui import SHOTS
from ue_backup.ui.run_page import page as summary_page
from ue_backup.ui.run_page import render

pytestmark = [pytest.mark.browser, pytest.mark.deploy]

# the sandbox attribute of the Airflow 3.3 UI's plugin iframe (its bundle)
SANDBOX = "allow-scripts allow-same-origin allow-forms allow-downloads"


@contextlib.contextmanager
def serve(pages: dict[str, str]) -> Iterator[str]:
    """Serve ``pages`` (path -> HTML) on 127.0.0.1; yields the base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path.split("?")[0], "<p>elsewhere</p>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_a_console_link_in_the_summary_tab_opens_in_a_new_tab(page):
    with serve({}) as console:
        markdown = f"## Backup set `s`: PASSED\n\n[the snapshot]({console}/rds/snapshot-1)"
        tab = summary_page("ue_backup", "r1", render(markdown))
        parent = (
            "<!doctype html><title>Airflow</title><iframe id=plugin "
            f'sandbox="{SANDBOX}" src="/ue-backup-catalog/runs/ue_backup/r1" '
            'style="width:900px;height:400px"></iframe>'
        )
        with serve({"/": parent, "/ue-backup-catalog/runs/ue_backup/r1": tab}) as airflow:
            page.goto(f"{airflow}/")
            frame = page.frame_locator("#plugin")
            link = frame.get_by_role("link", name="the snapshot")
            link.wait_for()
            with page.context.expect_page(timeout=10_000) as opened:
                link.click()
            new_tab = opened.value
            new_tab.wait_for_load_state()
            assert new_tab.url == f"{console}/rds/snapshot-1"
            # the UI itself stayed where it was, and so did the frame
            assert page.url == f"{airflow}/"
            page.screenshot(path=SHOTS / "frame-link-opened-outside.png")
