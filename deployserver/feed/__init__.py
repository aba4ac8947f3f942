"""The poll's hot path: which stored bytes answer a poll, cohorts, the last-known-good store
and the installation recorder."""
