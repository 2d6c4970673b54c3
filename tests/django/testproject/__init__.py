"""A minimal Django project for the tests of ``edge_personalize.django``.

:func:`setup` configures Django with :mod:`testproject.settings`. The
settings are passed to ``settings.configure()`` rather than named in
``DJANGO_SETTINGS_MODULE``, so that servers the end-to-end tests start in
subprocesses do not inherit them.
"""

from __future__ import annotations

import importlib

from django import setup as setup_django
from django.apps import apps
from django.conf import settings as django_settings


def setup() -> None:
    """Configure Django with the test project's settings, once per process."""
    if not django_settings.configured:
        project_settings = importlib.import_module("testproject.settings")
        django_settings.configure(
            **{
                name: getattr(project_settings, name)
                for name in dir(project_settings)
                if name.isupper()
            }
        )
    if not apps.ready:
        setup_django()
