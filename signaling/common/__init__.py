"""What every room of the service shares and nothing else: the error tree the edge maps to HTTP
statuses and WebSocket errors (``errors``), and the switchboard every room may publish through
(``switchboard``: the protocol; ``signaling.live.hub`` implements it, the root wires it in).

Imports nothing of the service; everything may import it.
"""
