"""The stage floor: the pipeline written once, below both front doors.

The CLI (`aifactory/`) and Dagster (`assets/`) stand side by side on this package and
import nothing of each other. It composes the layers below it (settings.py, factory.py),
drives the stages from file to vector (runner.py: scan and publish, land, transform,
project to the index; follow.py keeps them open as a service; backlog.py lands what
other producers published), and runs the operations on what they built: deletes and
erasure, replay, lineage, status, metering and the usage and residency reports. The
Dagster assets call it through steps.py (one call per asset), quality.py (what each
check measures) and compaction.py.
"""
