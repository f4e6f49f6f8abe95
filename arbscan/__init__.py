"""arbscan, the composition root: wires feeds, the scanner engine and the sinks (``feeds``
and ``scanner`` never import each other; this package is where they meet). The command line
is :mod:`arbscan.cli`; ``run.py`` and the installed ``arbscan`` command run it."""
