"""The local WhatsApp simulator: virtual accounts and patients, pairing, faults (SIMULATOR.md)."""
