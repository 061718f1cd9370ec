"""The URL conf as the hardening suite sees it: every route, its view and its methods."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

METHODS = ("get", "post", "put", "patch", "delete")
_PARAM = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


@dataclass(frozen=True)
class Route:
    pattern: str  # "api/v1/tracks/<int:pk>/audio/"
    name: str
    view: type | None
    methods: tuple[str, ...]

    @property
    def params(self) -> list[tuple[str, str]]:
        """[(segment before the parameter, parameter name)]: ("tracks", "pk")."""
        found = []
        for match in _PARAM.finditer(self.pattern):
            before = self.pattern[: match.start()].rstrip("/").rsplit("/", 1)[-1]
            found.append((before, match["name"]))
        return found

    def url(self, values: dict[str, object]) -> str:
        return "/" + _PARAM.sub(lambda m: str(values[m["name"]]), self.pattern)


def _walk(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def all_routes() -> list[Route]:
    routes = []
    for pattern, entry in _walk(get_resolver()):
        view = getattr(entry.callback, "cls", None) or getattr(entry.callback, "view_class", None)
        methods = tuple(m for m in METHODS if view is not None and hasattr(view, m))
        routes.append(Route(pattern=pattern, name=entry.name or "", view=view, methods=methods))
    return routes
