"""Ingest: the edge to the outside world.

Sources and parsers, the Kafka producer and admin, the embedded broker, and the
landing of topics into the Parquet lake.
"""
