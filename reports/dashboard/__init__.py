"""`dlbench publish`: the results database as a static site (reports.dashboard.site)."""
