"""Routing moto's URL maps to the sandbox's response classes, for as long as the sandbox runs.

moto's server builds one Flask app per service from ``moto.<service>.urls``
when the service is first called. Pointing those maps at the sandbox's
subclasses (each route to the subclass's method of the same name; and adding the
routes of the operations moto lacks, anchored with ``$`` and with ARN labels as
``.+``, since ARNs contain ``/``) before the
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
    # (moto.<service>.responses, the class's name) for a service whose URL map moto
    # re-imports on every use (S3 reloads moto.s3.urls): only the class it imports
    # from there reaches the map, so the subclass stands in for it while installed.
    replaces: tuple[ModuleType, str] | None = None


class MotoExtensions:
    def __init__(self, extensions: list[Extension]) -> None:
        self.extensions = extensions
        self._saved: list[tuple[dict, dict]] = []
        self._replaced: list[tuple[ModuleType, str, type]] = []

    def install(self) -> None:
        for extension in self.extensions:
            paths = extension.urls.url_paths
            self._saved.append((paths, dict(paths)))
            for pattern in [*paths, *extension.extra_paths]:
                # moto's S3 routes to several entry points (bucket_dispatch, key_dispatch,
                # ...); every other service to ``dispatch``: the subclass's namesake.
                name = getattr(paths.get(pattern), "__name__", "dispatch")
                paths[pattern] = getattr(extension.response, name)
            if extension.replaces is not None:
                module, class_name = extension.replaces
                self._replaced.append((module, class_name, getattr(module, class_name)))
                setattr(module, class_name, extension.response)

    def uninstall(self) -> None:
        for paths, original in self._saved:
            paths.clear()
            paths.update(original)
        self._saved.clear()
        for module, class_name, original in self._replaced:
            setattr(module, class_name, original)
        self._replaced.clear()
