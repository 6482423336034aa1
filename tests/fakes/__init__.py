"""Fakes at the carrier boundary: real local HTTP servers that speak the carrier's API."""
