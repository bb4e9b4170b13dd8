"""Program data: every number the supervisor dashboard, the call-type analysis and the exports
show is computed in this package, and only here. It reads all three apps (dispatch, referrals,
field) and is the one part of dispatch allowed to (with the management commands); nothing
outside it imports it but config's URLs and the commands (see the import-linter contracts in
pyproject.toml). It is an app of its own (ReportsConfig, no models: its tables are dispatch's)
so that wiring its signals does not make dispatch import the apps built on it.

- engine: the range and filters, durations on a grid, a range's Totals read from the records;
- sums: the kept sums of settled days and whole months, the day versions that keep them true,
  and the day cells under them (marked by writers, computed ahead of time);
- sections: the dashboard's sections and the call-type analysis;
- forms, views, exports, urls: the pages and the CSV exports;
- signals: every write the numbers read raises its day's version.
"""
