"""The `aifactory` command line: one of the two front doors (Dagster's `assets/` is the
other) over the stage floor in `pipeline/`. The parser and the way a command ends
(cli.py), what each command does (commands.py), `serve` and the HTML renderers."""
