"""Prometheus metrics of the service (issue 11 item 9): who may scrape (``access``), what the
database says for the whole service (``service_counts``), what each worker alone knows
(``worker_figures``) and where workers leave it for each other (``board``), the families and their
text (``exposition``), one worker's answer to a scrape (``scrape``).

A domain above the reports: it may import every other domain, storage and the floor; never
transport nor the root. No label carries patient information: facility codes, fixed words and
worker names (host and process id) only.
"""
