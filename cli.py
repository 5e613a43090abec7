"""Run provenance from a checkout without installing it: ``python cli.py check clip.mp4``."""

from provenance.cli import main

if __name__ == "__main__":
    main()
