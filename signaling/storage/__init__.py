"""Storage: the relational schema (``models``), the engine and session factory for SQLite and
PostgreSQL (``database``), and the Alembic migrations that create exactly that schema
(``migrations``).

Imports nothing of the service but the floor (``signaling.common``, ``config``, ``clock``) and the
pager's own tables (``paging.store``, ``paging.sqltypes``); every domain may import it.
"""
