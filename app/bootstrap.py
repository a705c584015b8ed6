"""Composition root: the only place that builds keys → store → services (and later transports,
API and scheduler). No module-level state anywhere else; everything is passed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import socket
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import OperationalError

from app.backup.jobs import BackupJobs, JobHost
from app.backup.service import BackupService
from app.channels.deafwatch import DeafWatch
from app.channels.supervisor import Supervisor, SupervisorSettings
from app.config import DataDir
from app.domain.deafness import DeafSettings
from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.policies import check_password, normalise_username
from app.domain.reminders import pacing_from_env
from app.domain.roles import Actor, local_admin
from app.infra.clock import SystemClock
from app.infra.patient_archive import ZipPatientArchive
from app.security.fsperms import is_network_path, make_private_dir, storage_problems
from app.security.keystore import KeyStore, UnlockResult
from app.security.passwords import Argon2Hasher
from app.security.protectors import MachineProtector, default_machine_protector
from app.security.recovery_key import RecoveryKey
from app.security.sealing import DeviceStoreKeys
from app.security.tokens import TokenIssuer
from app.services.audit import Auditor, AuditService
from app.services.auth import AuthService
from app.services.branches import BranchService
from app.services.channels import ChannelService
from app.services.contacts import ContactService
from app.services.contacts_merge import ContactMergeService
from app.services.dashboard import DashboardService
from app.services.events import EventBus
from app.services.inbound import InboundPipeline
from app.services.media import MediaService
from app.services.outbound import OutboundService
from app.services.patient_erase import PatientEraseService
from app.services.patient_export import PatientExportService
from app.services.ports import ChannelRuntime
from app.services.queues import QueueService
from app.services.reminder_scheduler import ReminderScheduler, SchedulerSettings
from app.services.reminders import ReminderService
from app.services.search import SearchService
from app.services.sender import MediaSending, OutboxSender
from app.services.stats import counts_of
from app.services.tickets import TicketService
from app.services.users import UserService
from app.store.media import MediaStore, derive_media_key
from app.store.repos_search import search_repo
from app.store.store import Store
from app.sync.agent import SyncAgent
from app.sync.report import Environment
from app.sync.service import SyncService

log = logging.getLogger(__name__)
ENV_DEAF_WATCH = "CLINICDESK_DEAF_WATCH"
ENV_REMINDER_PACING = "CLINICDESK_REMINDER_PACING"


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """How the data key is protected here, for ``clinicdesk status`` (no secrets)."""

    machine_protector: str
    problems: tuple[str, ...]
    insecure_allowed: bool
    keystore_copy: str
    key_id: str

    @property
    def secure(self) -> bool:
        return not self.problems


@dataclass
class Core:
    """Everything the engine (or an offline CLI command) works with, wired once."""

    data_dir: DataDir
    store: Store
    key_status: KeyStatus
    clock: SystemClock
    auditor: Auditor
    branches: BranchService
    users: UserService
    auth: AuthService
    audit: AuditService
    contacts: ContactService
    channels: ChannelService
    outbound: OutboundService
    tickets: TicketService
    queues: QueueService
    merges: ContactMergeService
    search: SearchService
    dashboard: DashboardService
    reminders: ReminderService
    media: MediaService
    exports: PatientExportService
    erasures: PatientEraseService
    bus: EventBus
    backups: BackupService | None = None  # set by open_core (needs the keystore)
    sync: SyncService | None = None  # set by open_core (reports to the central office)
    device_keys: DeviceStoreKeys | None = None  # whatsapp-web device stores (from the DEK)
    tokens: TokenIssuer = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = TokenIssuer(self.clock.now)

    def local_actor(self) -> Actor:
        """The local administrator acting from this machine (CLI, installer)."""
        return local_admin(workstation=hostname())

    def close(self) -> None:
        """Stop the writer (draining it) and close the database."""
        self.store.close()


def core_report(core: Core) -> dict[str, object]:
    """Store, key storage, audit head and per-channel counts: the body of ``status``.

    Blocking (it reads the store): the engine calls it in a thread.
    """
    key = core.key_status
    head = core.store.read_sync(lambda tx: tx.audit.head())
    return {
        "store": core.store.info(),
        "key_storage": {
            "machine_protector": key.machine_protector,
            "secure": key.secure,
            "problems": list(key.problems),
            "insecure_allowed": key.insecure_allowed,
            "keystore_copy": key.keystore_copy,
        },
        "audit": {
            "head_seq": head.entry.seq if head else 0,
            "head_hash": head.hash if head else "",
        },
        "channels": _with_warnings(core, core.store.read_sync(counts_of)),
        "backups": core.backups.status() if core.backups is not None else None,
        "sync": _sync_status(core),
    }


def _sync_status(core: Core) -> dict[str, object] | None:
    """The sync agent's status (None when the store predates it, e.g. not yet migrated)."""
    if core.sync is None:
        return None
    try:
        return asyncio.run(core.sync.status())  # core_report runs in a thread, off any loop
    except OperationalError:  # no sync_outbox table: an older store opened without migrating
        log.info("sync status unavailable", extra={"code": "sync.status_unavailable"})
        return None


def build_sync(core: Core) -> SyncService:
    """The sync agent's use cases; reports count uptime from now (the engine's start)."""
    env = Environment(
        data_root=core.data_dir.root,
        db_files=tuple(core.data_dir.db_set),
        started_at=core.clock.now(),
        insecure_key_storage=not core.key_status.secure,
        backup_status=core.backups.status if core.backups is not None else None,
        warning_of=lambda cid: _warning_of(core.channels.runtime, cid)[0],
    )
    return SyncService(core.store, core.clock, env, core.auditor)


def build_sync_agent(core: Core, host: JobHost) -> SyncAgent | None:
    """The report job and sender on the engine's one scheduler ``host``."""
    return SyncAgent(core.sync, host) if core.sync is not None else None


def _with_warnings(
    core: Core, counts: dict[int, dict[str, object]]
) -> dict[int, dict[str, object]]:
    """Add each channel's live warning (e.g. ``deaf_suspected``) and since when, or None."""
    for channel_id, row in counts.items():
        row["warning"], row["warning_since"] = _warning_of(core.channels.runtime, channel_id)
    return counts


def _warning_of(runtime: ChannelRuntime | None, channel_id: int) -> tuple[str | None, str | None]:
    if runtime is None:  # no engine runs the channels (offline status): no live warning
        return None, None
    try:
        live = runtime.status(channel_id)
    except ClinicDeskError:  # not hosted (disabled)
        return None, None
    return live.warning, live.warning_since.isoformat() if live.warning_since else None


def build_services(
    data_dir: DataDir, store: Store, key_status: KeyStatus, media: MediaStore
) -> Core:
    """Wire the services around an open store and its media store (same data key)."""
    clock, hasher, bus = SystemClock(), Argon2Hasher(), EventBus()
    auditor = Auditor(clock)
    return Core(
        data_dir=data_dir,
        store=store,
        key_status=key_status,
        clock=clock,
        auditor=auditor,
        branches=BranchService(store, clock, auditor),
        users=UserService(store, clock, hasher, auditor),
        auth=AuthService(store, clock, hasher, auditor),
        audit=AuditService(store),
        contacts=ContactService(store, clock, auditor),
        channels=ChannelService(store, clock, auditor),
        outbound=OutboundService(store, clock, auditor, bus, media=media),
        tickets=TicketService(store, clock, auditor, bus),
        queues=QueueService(store, clock, auditor),
        merges=ContactMergeService(store, clock, auditor),
        search=SearchService(store, auditor, search_repo),
        dashboard=DashboardService(store, clock),
        reminders=ReminderService(store, clock, auditor, bus),
        media=MediaService(store, media, auditor),
        exports=PatientExportService(store, clock, auditor, media.get, ZipPatientArchive()),
        erasures=PatientEraseService(store, clock, auditor, media.delete),
        bus=bus,
    )


def build_supervisor(core: Core, settings: SupervisorSettings | None = None) -> Supervisor:
    """The channel supervisor for ``core``, feeding inbound events to the durable pipeline
    (stored before they are acknowledged). Needs a running event loop to start."""
    pipeline = InboundPipeline(
        core.store, core.clock, core.auditor, core.bus, media=core.media.blobs
    )
    settings = settings or SupervisorSettings()
    return Supervisor(
        core.store, core.bus, core.data_dir, settings,
        inbound_sink=pipeline.ingest, device_keys=core.device_keys,
    )  # fmt: skip


def deaf_settings_from_env() -> DeafSettings:
    """Deaf-watch thresholds: the defaults, or the JSON object in ``CLINICDESK_DEAF_WATCH``
    (field names of :class:`DeafSettings`; tests and trials shorten the waits with it). A value
    that cannot be used is logged and the defaults apply: a typo must not stop the engine."""
    raw = os.environ.get(ENV_DEAF_WATCH)
    if not raw:
        return DeafSettings()
    try:
        values = json.loads(raw)
        if not isinstance(values, dict):
            raise ValueError("not an object")
        return DeafSettings.from_mapping(values)
    except ValueError:
        log.warning("%s ignored: defaults apply", ENV_DEAF_WATCH, extra={"code": "deaf.settings"})
        return DeafSettings()


def build_deaf_watch(
    core: Core, supervisor: Supervisor, settings: DeafSettings | None = None
) -> DeafWatch:
    """The deaf-channel watch over ``supervisor``'s channels; start it before the supervisor."""
    settings = settings or deaf_settings_from_env()
    return DeafWatch(core.store, core.bus, core.auditor, supervisor, settings)


def build_sender(core: Core, supervisor: Supervisor) -> OutboxSender:
    """The outbox drainer, sending through the supervisor's paced ``send_text`` (and
    ``send_media`` for attachments, read from the core's media store)."""
    rng = random.Random()  # noqa: S311 - jitter, not secrets
    media = MediaSending(core.media.blobs, supervisor.send_media)
    return OutboxSender(core.store, core.clock, supervisor.send_text, core.bus, rng, media=media)


def build_reminder_scheduler(
    core: Core, settings: SchedulerSettings | None = None
) -> ReminderScheduler:
    """The reminder scheduler (APScheduler); pacing from ``CLINICDESK_REMINDER_PACING`` (a JSON
    object of :class:`app.domain.reminders.Pacing` fields) or the defaults."""
    rng = random.Random()  # noqa: S311 - pacing gaps, not secrets
    settings = settings or SchedulerSettings(pacing_from_env(os.environ.get(ENV_REMINDER_PACING)))
    return ReminderScheduler(core.reminders, core.clock, rng, settings)


def build_backup_jobs(core: Core, host: JobHost) -> BackupJobs | None:
    """The backup jobs on the engine's one scheduler ``host`` (None when the settings turn
    scheduling off or the core has no backup service)."""
    if core.backups is None or not core.backups.settings.scheduled:
        return None
    return BackupJobs(core.backups, host)


def check_data_dir_location(root: Path) -> None:
    """Refuse a data directory on a network share (SQLite locking breaks there)."""
    if is_network_path(root):
        raise ClinicDeskError(ErrorCode.DATA_DIR_NETWORK_PATH, path=str(root))


def _key_problems(data_dir: DataDir, machine: MachineProtector, insecure: bool) -> tuple[str, ...]:
    problems = tuple(storage_problems(data_dir, machine))
    if problems and not insecure:
        raise ClinicDeskError(ErrorCode.DATA_DIR_INSECURE, problems=",".join(problems))
    if problems:
        log.warning("insecure key storage allowed by flag", extra={"code": ",".join(problems)})
    return problems


def unlock(
    data_dir: DataDir, *, insecure: bool = False, machine: MachineProtector | None = None
) -> tuple[UnlockResult, KeyStatus, KeyStore]:
    """Unwrap the data key with the machine protector, after the permission checks."""
    if not data_dir.is_initialised():
        raise ClinicDeskError(ErrorCode.DATA_DIR_NOT_INITIALISED, path=str(data_dir.root))
    check_data_dir_location(data_dir.root)
    machine = machine or default_machine_protector()
    problems = _key_problems(data_dir, machine, insecure)
    keystore = KeyStore(data_dir, machine)
    result = keystore.unlock()
    status = KeyStatus(machine.kind, problems, insecure, result.source, result.key_id)
    return result, status, keystore


def open_core(
    root: Path,
    *,
    insecure: bool = False,
    migrate: bool = True,
    machine: MachineProtector | None = None,
) -> Core:
    """Unlock and open an existing installation (migrating the schema unless told not to)."""
    data_dir = DataDir(root)
    result, status, keystore = unlock(data_dir, insecure=insecure, machine=machine)
    store = Store.open(data_dir, result.dek, migrate=migrate)
    if keystore.repair_from(result):
        log.warning("keystore copy repaired from the good copy", extra={"code": result.source})
    core = build_services(data_dir, store, status, MediaStore.from_dek(data_dir.media, result.dek))
    core.device_keys = DeviceStoreKeys.from_dek(result.dek)
    core.backups = BackupService(
        data_dir, store, keystore, derive_media_key(result.dek),
        device_root=core.device_keys.root_for_backup(),
    )  # fmt: skip
    core.sync = build_sync(core)
    core.erasures.after_erasure = core.backups.refresh_ledgers
    return core


@dataclass(frozen=True, slots=True)
class FirstAdmin:
    """The first super administrator, created by ``clinicdesk init``."""

    username: str
    display_name: str
    password: str


def _prepare_new_dir(data_dir: DataDir) -> None:
    if data_dir.is_initialised():
        raise ClinicDeskError(ErrorCode.DATA_DIR_ALREADY_INITIALISED, path=str(data_dir.root))
    check_data_dir_location(data_dir.root)
    try:
        make_private_dir(data_dir.root)
        probe = data_dir.root / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ClinicDeskError(ErrorCode.DATA_DIR_NOT_WRITABLE, path=str(data_dir.root)) from exc


def _remove_new_files(data_dir: DataDir) -> None:
    """Undo a failed init: only files init itself created (the directory was empty of them)."""
    for path in (*data_dir.db_set, data_dir.keystore, data_dir.keystore_backup):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


async def init_installation(
    root: Path, admin: FirstAdmin, *, machine: MachineProtector | None = None
) -> tuple[Core, RecoveryKey]:
    """Create keys, an empty encrypted store and the first super admin in a new data dir.

    Refuses an initialised directory; on any failure it removes only what it created.
    """
    data_dir = DataDir(root)
    normalise_username(admin.username)
    check_password(admin.password)
    _prepare_new_dir(data_dir)
    machine = machine or default_machine_protector()
    keystore = KeyStore(data_dir, machine)
    dek, recovery = await asyncio.to_thread(keystore.create)
    try:
        core = await _create_store_and_admin(data_dir, dek, machine, admin)
    except BaseException:
        _remove_new_files(data_dir)
        raise
    return core, recovery


async def _create_store_and_admin(
    data_dir: DataDir, dek: bytes, machine: MachineProtector, admin: FirstAdmin
) -> Core:
    store = await asyncio.to_thread(Store.create, data_dir, dek)
    status = KeyStatus(machine.kind, (), False, "primary", "")
    core = build_services(data_dir, store, status, MediaStore.from_dek(data_dir.media, dek))
    core.device_keys = DeviceStoreKeys.from_dek(dek)
    try:
        await core.users.add_first_super_admin(
            core.local_actor(), admin.username, admin.display_name, admin.password
        )
    except BaseException:
        core.close()
        raise
    return core


def recover_installation(
    root: Path, recovery: RecoveryKey, *, machine: MachineProtector | None = None
) -> KeyStatus:
    """Open the store with the recovery key and re-wrap the data key for this machine."""
    data_dir = DataDir(root)
    if not data_dir.is_initialised():
        raise ClinicDeskError(ErrorCode.DATA_DIR_NOT_INITIALISED, path=str(data_dir.root))
    machine = machine or default_machine_protector()
    keystore = KeyStore(data_dir, machine)
    result = keystore.unlock_with_recovery(recovery)
    Store.open(data_dir, result.dek, migrate=False).close()  # the key really opens this store
    backup_key = (
        keystore.unlock_backup_key_with_recovery(recovery) if keystore.has_backup_key() else None
    )
    keystore.rewrap_for_machine(result.dek, backup_key)
    return KeyStatus(machine.kind, (), False, result.source, result.key_id)


def hostname() -> str:
    """This workstation's name for audit entries."""
    return os.environ.get("COMPUTERNAME") or socket.gethostname()
