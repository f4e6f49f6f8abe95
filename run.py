"""arbscan from a checkout: ``python run.py ...`` is the installed ``arbscan ...`` command
(the command line is :mod:`arbscan.cli`).

    python run.py                        scan the simulated market (local emulator), console
    python run.py live   --venues ... --symbols ...     scan the real venues
    python run.py record OUT.ndjson.gz [--live] ...     scan and write a capture (v1)
    python run.py replay CAPTURE [--serve H:P] ...      replay a capture, print the events
    python run.py emulate ...                           run the venue emulator alone
"""

from arbscan.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
