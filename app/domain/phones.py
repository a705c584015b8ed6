"""Phone numbers: E.164 normalisation with Brazil as the default region."""

from __future__ import annotations

import phonenumbers

from app.domain.errors import ClinicDeskError, ErrorCode

DEFAULT_REGION = "BR"


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return ``raw`` as E.164 (``+5511987654321``) or raise ``phone.invalid``."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ClinicDeskError(ErrorCode.PHONE_INVALID) from None
    if not phonenumbers.is_valid_number(number):
        raise ClinicDeskError(ErrorCode.PHONE_INVALID)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
