"""The directory: where people work and where they may supervise, and the policy a facility pages
with (``queries``); the directory file an operator loads and its loader (``file``); the same document
read back and edited over the admin API (``edits``).

A domain below ``sessions`` and ``pager``: it may import ``accounts`` (a loaded user's logins and
password), storage and the floor; never transport, the root, or the domains above it.
"""
