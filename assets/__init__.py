"""Dagster definitions: the control plane. The only package that imports dagster."""
