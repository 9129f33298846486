"""`python -m maas` runs the same CLI as the `maas` console script."""

from maas.cli import main

if __name__ == "__main__":
    main()
