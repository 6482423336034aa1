"""Checks of the media: the pre-flight check on a device and the facility's shift rule
(``preflight``) with its running half (``preflight_runner``), and each worker's server-side monitors
of the copies that pages send of their camera and microphone (``monitors``).

A domain beside ``directory`` (neither imports the other), below ``sessions``: it may import
``accounts``, storage and the floor; never transport nor the root. The monitors publish their
evidence through the switchboard they are handed.
"""
