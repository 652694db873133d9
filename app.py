"""Start the product: ``python app.py`` does what ``make run`` does.

Until the web app lands this lists the persona library and starts a terminal conversation
with the reference persona.
"""

from __future__ import annotations

import sys

from roleplay.cli import main

if __name__ == "__main__":
    args = sys.argv[1:] or ["chat", "--persona", "damaged-laptop"]
    main(args)
