"""The exam and reaction record of a supervision session (issue 10): what was injected, whether a
radiologist was verified live at that second, every reaction and what was done, hash-chained and
append-only; and its printout, FHIR export and completeness."""
