"""Live transport: the ``/ws`` socket of each participant page (``socket``), its wire protocol
(``protocol``) and close codes (``close_codes``), each socket's watch over its session's link
(``link_watch``), and the worker's switchboard (``hub``) over the bus between workers (``bus``;
over Redis: ``redis_bus``).

Transport only parses, calls a domain and maps results and errors to frames and close codes. It may
import the worker's services, the domains, storage and the floor; never the root nor ``http``.
"""
