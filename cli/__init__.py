"""dlbench's command line, on top of everything else: harness (running, measuring), reports
(tables, comparison) and the results store below it, nothing below importing it."""
