"""HTTP transport: every route module (sessions and logins, admin, facilities, pre-flight, the media
monitor's offer, pages, the Twilio webhooks), the ASGI edge guards (``edge``) and the FastAPI
dependencies routes are written with (``deps``).

Transport only parses, calls a domain and maps results and errors (``signaling.common.errors``) to
JSON and statuses. It may import the worker's services, the domains, storage and the floor; never the
root nor ``live``.
"""
