"""Error codes raised by the core.

The core never builds user-facing sentences. It raises :class:`ClinicDeskError` with a stable
``code`` and ``params`` (placeholders). The CLI turns codes into English lines for IT staff
(``app/cli/messages.py``); the desk turns them into Portuguese with ``tr()``.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable error codes; never rename one that has shipped."""

    # data directory and files
    DATA_DIR_NOT_WRITABLE = "data_dir.not_writable"
    DATA_DIR_NOT_INITIALISED = "data_dir.not_initialised"
    DATA_DIR_ALREADY_INITIALISED = "data_dir.already_initialised"
    DATA_DIR_INSECURE = "data_dir.insecure_permissions"
    DATA_DIR_NETWORK_PATH = "data_dir.network_path"
    # keys
    KEYSTORE_MISSING = "keystore.missing"
    KEYSTORE_CORRUPT = "keystore.corrupt"
    KEYSTORE_UNSUPPORTED_VERSION = "keystore.unsupported_version"
    MACHINE_KEY_MISSING = "key.machine_missing"
    MACHINE_KEY_INSECURE = "key.machine_insecure_permissions"
    MACHINE_KEY_WRONG = "key.machine_wrong"
    RECOVERY_KEY_MALFORMED = "recovery_key.malformed"
    RECOVERY_KEY_GROUP_INVALID = "recovery_key.group_invalid"
    RECOVERY_KEY_WRONG = "recovery_key.wrong"
    DEK_MISMATCH = "key.dek_mismatch"
    # store
    STORE_MISSING = "store.missing"
    STORE_NOT_ENCRYPTED = "store.plaintext_file"
    STORE_WRONG_KEY = "store.wrong_key_or_corrupt"
    STORE_NO_SQLCIPHER = "store.sqlcipher_unavailable"
    STORE_SCHEMA_TOO_NEW = "store.schema_too_new"
    STORE_MIGRATION_FAILED = "store.migration_failed"
    STORE_CLOSED = "store.closed"
    STORE_BUSY = "store.write_backlog_full"
    STORE_WRITE_FAILED = "store.write_failed"
    # engine
    ENGINE_ALREADY_RUNNING = "engine.already_running"
    ENGINE_UNREACHABLE = "engine.unreachable"
    # auth and access
    AUTH_INVALID_CREDENTIALS = "auth.invalid_credentials"
    AUTH_THROTTLED = "auth.throttled"
    AUTH_TOKEN_INVALID = "auth.token_invalid"
    AUTH_USER_DISABLED = "auth.user_disabled"
    ACCESS_DENIED = "access.denied"
    ACCESS_BRANCH_DENIED = "access.branch_denied"
    # input validation
    INVALID_INPUT = "input.invalid"
    PASSWORD_TOO_SHORT = "password.too_short"
    PASSWORD_TOO_LONG = "password.too_long"
    PASSWORD_FILE_UNREADABLE = "password.file_unreadable"
    PHONE_INVALID = "phone.invalid"
    NOT_FOUND = "entity.not_found"
    ALREADY_EXISTS = "entity.already_exists"
    ROLE_UNKNOWN = "role.unknown"
    # audit
    AUDIT_CHAIN_BROKEN = "audit.chain_broken"
    # channels
    CHANNEL_INVALID_TRANSITION = "channel.invalid_transition"
    CHANNEL_ALREADY_CONNECTED = "channel.already_connected"
    CHANNEL_NOT_RUNNING = "channel.not_running"
    CHANNEL_KIND_UNSUPPORTED = "channel.kind_unsupported"
    CHANNEL_PAIRING_TIMEOUT = "channel.pairing_timeout"
    CHANNEL_PAIRING_FAILED = "channel.pairing_failed"
    DEVICE_STORE_UNREADABLE = "channel.device_store_unreadable"
    WORKER_PROTOCOL = "worker.protocol_error"
    SIMULATOR_UNREACHABLE = "simulator.unreachable"
    # backups
    BACKUP_KEY_MISSING = "backup.key_missing"
    BACKUP_ARCHIVE_INVALID = "backup.archive_invalid"
    BACKUP_ARCHIVE_UNSUPPORTED = "backup.archive_unsupported_version"
    BACKUP_WRONG_KEY = "backup.wrong_key"
    BACKUP_VERIFY_FAILED = "backup.verify_failed"
    BACKUP_TARGET_FAILED = "backup.target_failed"
    BACKUP_IN_PROGRESS = "backup.in_progress"
    RESTORE_DIR_IN_USE = "restore.data_dir_in_use"
    RESTORE_DIR_NOT_EMPTY = "restore.data_dir_not_empty"
    RESTORE_NOT_CONFIRMED = "restore.not_confirmed"
    # central office server
    CENTRAL_DB_URL_INVALID = "central.db_url_invalid"
    CENTRAL_DB_UNREACHABLE = "central.db_unreachable"
    # sync agent (appliance -> central)
    SYNC_NOT_ENROLLED = "sync.not_enrolled"
    SYNC_ALREADY_ENROLLED = "sync.already_enrolled"
    SYNC_BAD_CODE = "sync.bad_code"
    SYNC_CENTRAL_UNREACHABLE = "sync.central_unreachable"
    SYNC_TLS_FAILED = "sync.tls_failed"
    SYNC_CA_FILE_INVALID = "sync.ca_file_invalid"
    SYNC_HTTP_NOT_ALLOWED = "sync.http_not_allowed"
    SYNC_REJECTED = "sync.rejected"
    SYNC_NOT_CONFIRMED = "sync.not_confirmed"


class ClinicDeskError(Exception):
    """An expected failure with a stable code and placeholder values.

    ``params`` never contains message text, patient names or phone numbers: they may be logged.
    """

    def __init__(self, code: ErrorCode, **params: object) -> None:
        self.code = code
        self.params: dict[str, object] = params
        super().__init__(f"{code.value} {params}" if params else code.value)


class AccessDeniedError(ClinicDeskError):
    """The acting user lacks the role or the branch for what was asked."""


class NotFoundError(ClinicDeskError):
    """The named entity does not exist (or is outside what the actor may see)."""
