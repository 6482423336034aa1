"""Accounts: the logged-in person (``principal``) and the roles a person may hold (``roles``);
password login and server-side login sessions with automatic logoff (``logins``), password hashing
and policy (``passwords``), the slowdown of password guessing per address (``login_throttle``) with
its counts in Redis or one worker's memory (``failure_counts``), and short-lived TURN credentials
for a user (``turn``).

The lowest domain: it imports only storage and the floor; every other domain may import it.
"""
