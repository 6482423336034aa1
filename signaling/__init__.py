"""The Standby service.

At this top level only the composition root: the app factory (``app``), the command line (``cli``),
the settings (``config``), the per-worker services (``services``), the wall clock (``clock``) and
the stopwatch of a worker's start (``startup``).
Below it, one package per concern, in layers that import only downwards (an import-linter
``layers`` contract in ``pyproject.toml`` keeps the direction):

- root: ``app`` and ``cli`` wire everything together;
- transport: ``http`` (routes, edge guards, dependencies, Twilio webhooks, pages) and ``live`` (the
  socket, its protocol and close codes, the link watch, the hub and bus);
- the worker's services (``services``), which the root builds and transport hands to domains;
- domains, which never import transport, themselves in order: ``pager`` (the glue to
  ``paging/``) above ``sessions`` above ``directory`` and ``checks`` above ``accounts``;
- storage: ``storage`` (models, database, migrations);
- the floor, which imports nothing of the service: ``common`` (the error tree, the switchboard
  protocol), ``config``, ``clock`` and ``startup``.
"""
