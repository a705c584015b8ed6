"""English one-line messages for core error codes (IT staff read these; the desk uses tr())."""

from __future__ import annotations

from app.domain.errors import ClinicDeskError, ErrorCode

_TEXT: dict[ErrorCode, str] = {
    ErrorCode.DATA_DIR_NOT_WRITABLE: "data directory {path} is not writable",
    ErrorCode.DATA_DIR_NOT_INITIALISED: (
        "no ClinicDesk installation in {path} (run 'clinicdesk init' first)"
    ),
    ErrorCode.DATA_DIR_ALREADY_INITIALISED: (
        "{path} already holds a ClinicDesk installation; refusing to create a new one over it"
    ),
    ErrorCode.DATA_DIR_INSECURE: (
        "key storage is readable by other accounts ({problems}); fix the permissions "
        "(chmod 700 the data dir, 600 the key files) or pass --insecure-key-storage"
    ),
    ErrorCode.DATA_DIR_NETWORK_PATH: "{path} is on a network share; keep the data on a local disk",
    ErrorCode.KEYSTORE_MISSING: (
        "keystore.json and keystore.bak are both missing; use 'clinicdesk recover' only "
        "if you still have them from a backup"
    ),
    ErrorCode.KEYSTORE_CORRUPT: "keystore.json and keystore.bak are both damaged",
    ErrorCode.KEYSTORE_UNSUPPORTED_VERSION: "the keystore was written by a newer ClinicDesk",
    ErrorCode.MACHINE_KEY_MISSING: (
        "this machine cannot unlock the data (new PC or reinstalled system?): "
        "run 'clinicdesk recover' with the recovery key"
    ),
    ErrorCode.MACHINE_KEY_INSECURE: "the machine key file is readable by other accounts",
    ErrorCode.MACHINE_KEY_WRONG: (
        "the machine key does not unlock this keystore: run 'clinicdesk recover' with the "
        "recovery key"
    ),
    ErrorCode.RECOVERY_KEY_MALFORMED: (
        "a recovery key has 48 digits in 8 groups of 6; this one has {digits}"
    ),
    ErrorCode.RECOVERY_KEY_GROUP_INVALID: "group {group} of the recovery key has a typo",
    ErrorCode.RECOVERY_KEY_WRONG: "this recovery key does not belong to this installation",
    ErrorCode.DEK_MISMATCH: "the unlocked key does not match this keystore",
    ErrorCode.STORE_MISSING: (
        "the keystore is present but clinicdesk.db is missing; restore it from a backup"
    ),
    ErrorCode.STORE_NOT_ENCRYPTED: (
        "clinicdesk.db is an unencrypted SQLite file; refusing to use it"
    ),
    ErrorCode.STORE_WRONG_KEY: (
        "clinicdesk.db cannot be opened with this key (damaged, or not this installation's)"
    ),
    ErrorCode.STORE_NO_SQLCIPHER: "SQLCipher is not available; refusing to run unencrypted",
    ErrorCode.STORE_SCHEMA_TOO_NEW: "the database was written by a newer ClinicDesk ({revision})",
    ErrorCode.STORE_MIGRATION_FAILED: (
        "database upgrade from {from_revision} to {to_revision} failed; nothing was changed"
    ),
    ErrorCode.STORE_CLOSED: "the store is closed (the engine is shutting down)",
    ErrorCode.STORE_BUSY: "the store is overloaded ({backlog} writes waiting); try again shortly",
    ErrorCode.STORE_WRITE_FAILED: "a database write failed; nothing of it was saved",
    ErrorCode.ENGINE_ALREADY_RUNNING: "an engine is already running on this data directory",
    ErrorCode.ENGINE_UNREACHABLE: "the engine for this data directory does not answer ({url})",
    ErrorCode.AUTH_INVALID_CREDENTIALS: "wrong username or password",
    ErrorCode.AUTH_THROTTLED: "too many failed logins; try again in {retry_after} s",
    ErrorCode.AUTH_TOKEN_INVALID: "session expired or invalid; log in again",
    ErrorCode.AUTH_USER_DISABLED: "this account is disabled",
    ErrorCode.ACCESS_DENIED: "not allowed ({permission})",
    ErrorCode.ACCESS_BRANCH_DENIED: "not allowed in that branch",
    ErrorCode.INVALID_INPUT: "invalid value for {field}",
    ErrorCode.PASSWORD_TOO_SHORT: "password too short: at least {minimum} characters",
    ErrorCode.PASSWORD_TOO_LONG: "password too long: at most {maximum} characters",
    ErrorCode.PASSWORD_FILE_UNREADABLE: "cannot read the password file {path}",
    ErrorCode.PHONE_INVALID: "not a valid phone number",
    ErrorCode.NOT_FOUND: "no such {entity}",
    ErrorCode.ALREADY_EXISTS: "that {entity} already exists",
    ErrorCode.ROLE_UNKNOWN: (
        "unknown role {role} (use super_admin, admin, supervisor or receptionist)"
    ),
    ErrorCode.CHANNEL_INVALID_TRANSITION: "channel cannot go from {from_state} to {to_state}",
    ErrorCode.CHANNEL_ALREADY_CONNECTED: "that channel is already connected",
    ErrorCode.CHANNEL_NOT_RUNNING: (
        "the engine is not running on this data directory (start it with 'clinicdesk engine')"
    ),
    ErrorCode.CHANNEL_KIND_UNSUPPORTED: "channel kind {kind} is not supported here",
    ErrorCode.CHANNEL_PAIRING_TIMEOUT: "pairing timed out; nobody scanned the code",
    ErrorCode.CHANNEL_PAIRING_FAILED: "pairing ended: {reason}",
    ErrorCode.DEVICE_STORE_UNREADABLE: (
        "the channel's sealed WhatsApp device store cannot be opened ({reason}); "
        "log the channel out and pair it again"
    ),
    ErrorCode.WORKER_PROTOCOL: "channel worker protocol error ({reason})",
    ErrorCode.SIMULATOR_UNREACHABLE: "the simulator does not answer at {url}",
    ErrorCode.AUDIT_CHAIN_BROKEN: "audit log damaged at entry {seq} ({problem})",
    ErrorCode.BACKUP_KEY_MISSING: (
        "this installation has no backup key yet: run 'clinicdesk backup init-key "
        "--recovery-key-file R' once"
    ),
    ErrorCode.BACKUP_ARCHIVE_INVALID: "the backup archive is damaged or incomplete ({reason})",
    ErrorCode.BACKUP_ARCHIVE_UNSUPPORTED: (
        "the backup archive was written by a newer ClinicDesk (format {version})"
    ),
    ErrorCode.BACKUP_WRONG_KEY: "this key does not open the backup archive ({reason})",
    ErrorCode.BACKUP_VERIFY_FAILED: "the backup archive failed verification ({reason})",
    ErrorCode.BACKUP_TARGET_FAILED: (
        "could not write the backup to {path} ({error}); no archive was left there"
    ),
    ErrorCode.BACKUP_IN_PROGRESS: "a backup is already running; try again when it ends",
    ErrorCode.RESTORE_DIR_IN_USE: (
        "an engine is running on {path}; stop it before restoring into that folder"
    ),
    ErrorCode.RESTORE_DIR_NOT_EMPTY: (
        "{path} already holds data; pass --replace (and confirm) to replace it, "
        "or choose an empty folder"
    ),
    ErrorCode.RESTORE_NOT_CONFIRMED: "restore cancelled: replacing {path} was not confirmed",
    ErrorCode.CENTRAL_DB_URL_INVALID: (
        "{url} is not a usable database URL (use sqlite:///PATH or postgresql://USER@HOST/DB)"
    ),
    ErrorCode.CENTRAL_DB_UNREACHABLE: "cannot open the central database at {url}",
    ErrorCode.SYNC_NOT_ENROLLED: (
        "this appliance is not enrolled with a central office "
        "(run 'clinicdesk sync enroll' with the code from the central)"
    ),
    ErrorCode.SYNC_ALREADY_ENROLLED: (
        "this appliance is already enrolled; pass --force to enrol again with a new identity"
    ),
    ErrorCode.SYNC_BAD_CODE: (
        "the central refused the enrolment code (wrong, used or expired); ask for a new one"
    ),
    ErrorCode.SYNC_CENTRAL_UNREACHABLE: "could not reach the central office ({reason})",
    ErrorCode.SYNC_TLS_FAILED: (
        "the central's TLS certificate was not accepted (check --ca-file and the URL's host name)"
    ),
    ErrorCode.SYNC_CA_FILE_INVALID: "cannot read a CA certificate from {path}",
    ErrorCode.SYNC_HTTP_NOT_ALLOWED: (
        "{url} uses plain http; use https:// (http is only allowed to this machine)"
    ),
    ErrorCode.SYNC_REJECTED: (
        "the central refuses this appliance ({reason}); reports stay queued; "
        "check the appliance in the central's dashboard or enrol again"
    ),
    ErrorCode.SYNC_NOT_CONFIRMED: (
        "the central did not confirm the reports ({reason}); {left} stay queued "
        "and will be sent automatically"
    ),
}


# Variants of one code, chosen by its "reason" placeholder.
_BY_REASON: dict[tuple[ErrorCode, str], str] = {
    (ErrorCode.RECOVERY_KEY_MALFORMED, "unreadable"): "cannot read the recovery key file",
    (ErrorCode.STORE_WRONG_KEY, "too_short"): "clinicdesk.db is empty or truncated",
    (ErrorCode.BACKUP_ARCHIVE_INVALID, "truncated"): (
        "the backup archive is truncated (incomplete copy or a failed write)"
    ),
    (ErrorCode.BACKUP_ARCHIVE_INVALID, "not_an_archive"): "that file is not a ClinicDesk backup",
    (ErrorCode.INVALID_INPUT, "hours_format"): (
        'cannot read the business hours; write them like "seg-sex 08:00-12:00 13:00-18:00; '
        'sab 08:00-12:00" (days not named are closed; "sempre" means always open)'
    ),
    (ErrorCode.INVALID_INPUT, "unknown_zone"): (
        "unknown time zone; use a name such as America/Sao_Paulo or America/Manaus"
    ),
    (ErrorCode.INVALID_INPUT, "nothing_to_change"): "nothing to change: give {options}",
}


def message_for(error: ClinicDeskError) -> str:
    """One English line for ``error``; falls back to the code if a placeholder is missing."""
    reason = str(error.params.get("reason", ""))
    template = _BY_REASON.get((error.code, reason)) or _TEXT.get(error.code)
    if template is None:
        return error.code.value
    params = dict(error.params)
    if "entity" in params:  # "quick_reply" (a code's word) reads "quick reply"
        params["entity"] = str(params["entity"]).replace("_", " ")
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return f"{template.split('{')[0].rstrip()} ({error.code.value})"
