"""Specs: canonical JSON and digests, chart and values validation, the operator's merge."""
