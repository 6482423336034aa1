"""Supervision sessions, the heart of the record: the state machine (``state``); opening, accepting,
ending and who may see which (``supervision``); what the live call did (``call_record``); the
seconds of verified live supervision and every gap (``coverage``); a radiologist's response to a
page, with the pager and the notices it causes (``responders``); the re-page rule over the
radiologist's media evidence, swept by every worker (``radiologist_watch``); and what participants and the
radiologist lobby are told when a session changes (``notices``).

A domain below ``pager``: it may import ``directory``, ``checks``, ``accounts``, storage and the
floor; never transport (``http``, ``live``), the root, or ``pager``. Whatever it needs of the worker
(database, pager, switchboard) is handed in.
"""
