"""The console's views, one module per group of pages (importing them registers routes)."""

from deployserver.console.views import actions, admin, auth, channels, logs, policies, releases

__all__ = ["actions", "admin", "auth", "channels", "logs", "policies", "releases"]
