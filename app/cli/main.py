"""Argument parsing and dispatch for ``clinicdesk`` (placeholder until the CLI lands)."""

from __future__ import annotations

import argparse

from app import __version__


def run(argv: list[str]) -> int:
    """Run the command named in ``argv``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="clinicdesk")
    parser.add_argument("--version", action="version", version=f"clinicdesk {__version__}")
    parser.parse_args(argv)
    return 0
