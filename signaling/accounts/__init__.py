"""Accounts: the logged-in person (``principal``) and the roles a person may hold (``roles``);
password login and server-side login sessions with automatic logoff (``logins``), password hashing
and policy (``passwords``), the per-worker slowdown of password guessing (``login_guard``), and
short-lived TURN credentials for a user (``turn``).

The lowest domain: it imports only storage and the floor; every other domain may import it.
"""
