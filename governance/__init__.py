"""Governance: data contracts, residency policy, lineage, audit and metering.

The bottom layer: no Kafka, no Dagster, no models. Everything above imports it.
"""
