"""``python -m aihwkit_sc``: the same command line as ``aihwkit-sc``."""

from aihwkit_sc.cli import main

if __name__ == "__main__":
    main()
