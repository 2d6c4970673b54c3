"""URLs of the Django example shop."""

from __future__ import annotations

from django.urls import path, re_path
from django.views.static import serve

from .. import shop
from . import views

urlpatterns = [
    path("", views.index),
    path("products/<slug:slug>", views.product_page),
    path("thumbs/<str:product_id>.svg", views.thumbnail),
    path("api/products/<slug:slug>", views.product_json),
    # Django's static file view, so that runserver and uvicorn serve the
    # stylesheet without collectstatic; a FileResponse, it passes through
    # the personalizer untouched.
    re_path(r"^static/(?P<path>.+)$", serve, {"document_root": shop.STATIC_DIR}),
]
