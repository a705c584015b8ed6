"""The engine's HTTP API (FastAPI). Clients: the desk, the CLI while an engine runs."""
