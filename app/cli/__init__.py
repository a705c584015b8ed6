"""The ``clinicdesk`` command line for IT staff (English; the desk is Portuguese)."""
