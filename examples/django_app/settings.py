"""Settings of the Django example shop.

The shop needs no database: sessions live in signed cookies. It binds to
127.0.0.1 only, and ``SECRET_KEY`` signs nothing but those demo sessions;
set ``DJANGO_SECRET_KEY`` to replace it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import shop

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-example-shop-only")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

ROOT_URLCONF = "examples.django_app.urls"
WSGI_APPLICATION = "examples.django_app.wsgi.application"
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, object] = {}
USE_TZ = True

# GZipMiddleware and ConditionalGetMiddleware come before the personalizer,
# so they receive the personalized page: the compressed bytes and the ETag are
# those of what the visitor gets. SessionMiddleware comes before it too,
# because the context hook below reads the session.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "edge_personalize.django.PersonalizeMiddleware",
    "django.middleware.common.CommonMiddleware",
]

SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR.parent / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "examples.django_app.templating.environment"},
    }
]

# The slots of the other example shops, described in settings. Providers
# are named by dotted path; each names a function that builds one.
EDGE_PERSONALIZE = {
    "routes": list(shop.ROUTES),
    "slots": {
        "recommendations": {
            "providers": ["examples.django_app.personalization.catalog_provider"],
            "limit": 4,
        },
        "trending": {
            "providers": ["examples.django_app.personalization.trending_provider"],
            "limit": 3,
            "heading": "Trending",
        },
    },
    "deadline": 0.2,
}
EDGE_PERSONALIZE_CONTEXT_HOOK = (
    "examples.django_app.personalization.add_browsed_categories"
)
