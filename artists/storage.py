"""Storage for files that are never served from a URL (KYC documents, masters, split sheets)."""

from __future__ import annotations

from django.core.files.storage import Storage, storages
from django.utils.deconstruct import deconstructible


@deconstructible(path="artists.storage.PrivateStorage")
class PrivateStorage(Storage):
    """`storages["private"]`, looked up on every use rather than once at import, so a
    changed STORAGES setting (tests, management commands) is honoured. It has no URL:
    files are streamed by views that check who is asking."""

    @staticmethod
    def _target() -> Storage:
        return storages["private"]

    def _open(self, name, mode="rb"):
        return self._target()._open(name, mode)

    def _save(self, name, content):
        return self._target()._save(name, content)

    def get_available_name(self, name, max_length=None):
        return self._target().get_available_name(name, max_length=max_length)

    def delete(self, name):
        return self._target().delete(name)

    def exists(self, name):
        return self._target().exists(name)

    def listdir(self, path):
        return self._target().listdir(path)

    def size(self, name):
        return self._target().size(name)

    def path(self, name):
        return self._target().path(name)

    def url(self, name):
        raise ValueError("Private files have no URL; serve them through an authorised view.")
