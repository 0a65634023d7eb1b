"""Links that work from inside the Airflow UI's plugin frame.

Airflow 3.1+ shows a plugin's page (the catalog, a run's summary tab) in an
``<iframe sandbox="allow-scripts allow-same-origin allow-forms allow-downloads">``:
without ``allow-popups`` or ``allow-top-navigation``, a link with
``target="_top"`` or ``"_blank"`` is blocked by the browser, and a plain one
loads the AWS console (or Airflow's own trigger form) inside the frame. This
script opens such links through the top window instead, in a new tab
(``window.top.open``: the top window is not sandboxed). A link to another
page of the same app stays in the frame; opened on its own (not framed), the
page's links behave as usual.
"""

from __future__ import annotations

# Where the plugin mounts its app (catalog_plugin); under a deployment's base path too.
APP_PATH = "/ue-backup-catalog"

OUT_OF_FRAME_SCRIPT = """<script>
document.addEventListener("click", function (event) {
  var link = event.target.closest ? event.target.closest("a[href]") : null;
  if (!link || window.top === window) return;
  var url = new URL(link.getAttribute("href"), document.baseURI);
  var inApp = url.origin === location.origin && url.pathname.indexOf(APP_PREFIX) >= 0;
  if (inApp && link.target !== "_top") return;
  event.preventDefault();
  window.top.open(url.href, "_blank", "noopener");
});
</script>"""


def out_of_frame_script(app_path: str = APP_PATH) -> str:
    """The script, for the app mounted at ``app_path`` (its own links stay framed)."""
    return OUT_OF_FRAME_SCRIPT.replace("APP_PREFIX", f'"{app_path}/"')
