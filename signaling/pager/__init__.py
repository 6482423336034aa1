"""The glue that hands the service to ``paging/``: the engine wired with the service's directory view
and in-app channel (``wiring``); that view, who a target means now with eligibility and caps checked
when a tier fires (``directory_view``); the SMS and voice channels through the carrier, and what a
reply or keypress means, acted on once (``phone``); what the pager has done for a session as people
see it (``summary``); and who is on call now for a facility, judged by the same view (``on_call``).

The highest domain: it may import every other domain, storage and the floor; never transport nor
the root. ``paging/`` itself never imports the service: it gets all it needs through these
constructors.
"""
