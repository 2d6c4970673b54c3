"""Build the optional C extension. The rest of the metadata is in pyproject.toml.

``optional=True`` lets the install go on without a C compiler. The package
then uses its pure-Python scanner, which gives the same results more slowly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "edge_personalize._speedups",
            sources=["src/edge_personalize/_speedups.c"],
            optional=True,
        )
    ]
)
