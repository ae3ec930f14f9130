"""Whether Apprise can use a URL, asked of Apprise itself; imported by the settings only when
URLs are configured (Apprise takes half a second to import) and by the delivery side."""

from __future__ import annotations

from apprise import Apprise
from apprise.plugins.base import NotifyBase


def apprise_plugin(url: str) -> NotifyBase | None:
    """The Apprise plugin instance that sends to `url`, or None when Apprise cannot use it."""
    plugin = Apprise.instantiate(url, suppress_exceptions=True)
    return plugin if isinstance(plugin, NotifyBase) else None


def apprise_problem(url: str) -> str | None:
    """Why Apprise cannot use `url`, or None; never quotes the URL (it holds a secret)."""
    if "://" not in url:
        return "not a URL (expected service://...)"
    if apprise_plugin(url) is None:
        scheme = url.partition("://")[0]
        return f"Apprise cannot use this {scheme}:// URL (unknown service or missing parts)"
    return None
