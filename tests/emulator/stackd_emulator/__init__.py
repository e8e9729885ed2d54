"""Moto's AWS emulator with stackd's extensions and a log of the calls it served.

Run it as ``python -m stackd_emulator --host 127.0.0.1 --port 5000`` with
``tests/emulator`` on PYTHONPATH and the packages of
``tests/emulator/requirements.txt`` installed. ``cargo xtask emulator``
does all three. ``--port 0`` binds a free port, and the ready line that
the server prints to stdout names the URL it serves.
"""
