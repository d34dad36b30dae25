"""``python -m abrkit``: the same command line as the ``abrkit`` script."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
