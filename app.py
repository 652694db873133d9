"""Start the product: ``python app.py`` does what ``make run`` does (the web app, offline
default, SQLite in ROLEPLAY_HOME). Extra arguments go to ``roleplay``, e.g.
``python app.py serve --port 8000``."""

from __future__ import annotations

import sys

from roleplay.faces.cli import main

if __name__ == "__main__":
    main(sys.argv[1:] or ["serve"])
