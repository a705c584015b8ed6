"""Use cases. They take the acting user, check role and branch, and talk to ports only."""
