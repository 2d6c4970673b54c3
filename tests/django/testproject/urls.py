"""URLconf of the Django test project: every path goes to one view."""

from __future__ import annotations

from django.urls import re_path

from . import views

urlpatterns = [re_path(r"", views.downstream)]
