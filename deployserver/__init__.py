"""deployserver: the release-channel server that Kubernetes operators poll."""

from deployserver.app import create_app

__all__ = ["create_app"]
