"""Settings of the Django test project.

Test modules change them per test with ``override_settings``: the
middleware stack, ``EDGE_PERSONALIZE`` and the URLconf. Nothing here needs
a database, so sessions live in signed cookies.
"""

from __future__ import annotations

SECRET_KEY = "edge-personalize-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost", "[::1]"]
ROOT_URLCONF = "testproject.urls"
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, object] = {}
USE_TZ = True

MIDDLEWARE = ["edge_personalize.django.PersonalizeMiddleware"]
EDGE_PERSONALIZE = "testproject.personalization.build_personalizer"

SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "edge-personalize-tests",
    }
}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": False,
        "OPTIONS": {"context_processors": ["django.template.context_processors.csrf"]},
    }
]
# No email setting: the project sends no mail, and Django 6.1 deprecates
# EMAIL_BACKEND in favour of MAILERS, which older versions do not know.

# pytest captures log records itself; Django's default logging setup would
# add handlers of its own.
LOGGING_CONFIG = None
