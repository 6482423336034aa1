"""What supervisors read (issue 11): response times against 30 s and 90 s, radiologists' load,
paging health, coverage and its forecast, reactions; each an aggregate run in the database over the
supervisor's own facilities, with its charts (SVG), CSV and printed operational review.

May import the record, the pager's view, sessions, the directory, accounts and storage; never
transport."""
