"""What every app runs on: its declaration and runtime, the one door to its data
(``app``), the search contract (``contract``, ``request_types``), the load pipeline
(``ingest``, ``sources``) and query batching (``batching``)."""
