"""PyInstaller entry script for the ``clinicdesk`` bundle.

PyInstaller needs a script, not a console-script entry point; this one only forwards to the same
``main`` that ``.venv/bin/clinicdesk`` calls, so the frozen and the installed command behave alike.
"""

from app.__main__ import main

raise SystemExit(main())
