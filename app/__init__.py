"""ClinicDesk: an on-premise WhatsApp service desk for clinics."""

__version__ = "0.1.0"
