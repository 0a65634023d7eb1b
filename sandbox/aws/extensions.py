"""Routing moto's URL maps to the sandbox's response classes, for as long as the sandbox runs.

moto's server builds one Flask app per service from ``moto.<service>.urls``
when the service is first called. Pointing those maps at the sandbox's
subclasses (and adding the routes of the operations moto lacks, anchored with
``$`` and with ARN labels as ``.+``, since ARNs contain ``/``) before the
server starts is all it takes to extend a service. ``uninstall`` puts moto back
as it was, so moto used directly elsewhere in the process is unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from moto.core.responses import BaseResponse


@dataclass(frozen=True)
class Extension:
    urls: ModuleType  # moto.<service>.urls
    response: type[BaseResponse]  # the sandbox's subclass of moto's response class
    extra_paths: tuple[str, ...] = ()  # url_paths patterns for operations moto lacks


class MotoExtensions:
    def __init__(self, extensions: list[Extension]) -> None:
        self.extensions = extensions
        self._saved: list[tuple[dict, dict]] = []

    def install(self) -> None:
        for extension in self.extensions:
            paths = extension.urls.url_paths
            self._saved.append((paths, dict(paths)))
            for pattern in [*paths, *extension.extra_paths]:
                paths[pattern] = extension.response.dispatch

    def uninstall(self) -> None:
        for paths, original in self._saved:
            paths.clear()
            paths.update(original)
        self._saved.clear()
