"""The Django example shop: the catalog of the Flask and FastAPI shops.

Its settings are in ``examples.django_app.settings``. Serve it from the
repository root with ``python -m examples.django_app runserver`` (WSGI) or
``uvicorn examples.django_app.asgi:application`` (ASGI).
"""
