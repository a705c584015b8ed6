"""Cross-cutting helpers with I/O: atomic files, logging, locks, permissions. No Qt."""
