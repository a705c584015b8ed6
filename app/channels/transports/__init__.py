"""Transports: one module per WhatsApp engine, each exposing a ``TransportFactory``.

The worker imports them lazily by name (``app.channels.worker``), so a worker loads only the
engine it hosts.
"""
