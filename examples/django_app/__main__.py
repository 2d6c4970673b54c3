"""Run a management command of the Django example shop, as ``manage.py`` would.

``python -m examples.django_app runserver`` serves the shop on
127.0.0.1:8000 with Django's development server.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Run the management command in ``argv`` (default: ``sys.argv``)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv if argv is not None else sys.argv)


if __name__ == "__main__":
    main()
