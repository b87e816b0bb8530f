"""The ``sisock`` command: every sub-command, the ``sisock up`` launcher and its supervisor."""
