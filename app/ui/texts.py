"""What the receptionist reads for each stable code: error codes, channel states and reasons.

Source strings are Portuguese (Brazil), the desk's default language; ``resources/i18n`` holds
the English translation. Each table is built at call time from literal ``translate`` calls so
``pyside6-lupdate`` can find them and the current translator applies. No technical words
(websocket, worker, token) ever reach the screen.
"""

from __future__ import annotations

import phonenumbers
from PySide6.QtCore import QCoreApplication

from app.domain.channels import LinkState, Reason
from app.domain.errors import ClinicDeskError, ErrorCode


def error_text(error: ClinicDeskError | ErrorCode) -> str:
    """A sentence for a core error; a generic one for codes the desk does not expect."""
    code = error.code if isinstance(error, ClinicDeskError) else error
    known = {
        ErrorCode.ENGINE_UNREACHABLE: QCoreApplication.translate(
            "Errors", "Não foi possível conectar ao serviço ClinicDesk. Tentando novamente…"
        ),
        ErrorCode.AUTH_INVALID_CREDENTIALS: QCoreApplication.translate(
            "Errors", "Usuário ou senha incorretos."
        ),
        ErrorCode.AUTH_THROTTLED: QCoreApplication.translate(
            "Errors", "Muitas tentativas. Aguarde um pouco e tente de novo."
        ),
        ErrorCode.AUTH_TOKEN_INVALID: QCoreApplication.translate(
            "Errors", "Sua sessão terminou. Entre novamente."
        ),
        ErrorCode.AUTH_USER_DISABLED: QCoreApplication.translate(
            "Errors", "Este usuário está desativado."
        ),
        ErrorCode.ACCESS_DENIED: QCoreApplication.translate(
            "Errors", "Você não tem permissão para fazer isso."
        ),
        ErrorCode.ACCESS_BRANCH_DENIED: QCoreApplication.translate(
            "Errors", "Você não tem acesso a esta unidade."
        ),
        ErrorCode.NOT_FOUND: QCoreApplication.translate(
            "Errors", "Não encontrado. Talvez já tenha sido removido."
        ),
        ErrorCode.INVALID_INPUT: QCoreApplication.translate(
            "Errors", "Confira os dados informados."
        ),
        ErrorCode.CHANNEL_ALREADY_CONNECTED: QCoreApplication.translate(
            "Errors", "Este número já está conectado."
        ),
        ErrorCode.CHANNEL_NOT_RUNNING: QCoreApplication.translate(
            "Errors", "Este número não está ativo no momento."
        ),
        ErrorCode.CHANNEL_PAIRING_TIMEOUT: QCoreApplication.translate(
            "Errors", "O código não foi lido a tempo. Gere um novo."
        ),
        ErrorCode.CHANNEL_PAIRING_FAILED: QCoreApplication.translate(
            "Errors", "Não foi possível conectar o celular."
        ),
        ErrorCode.STORE_BUSY: QCoreApplication.translate(
            "Errors", "O sistema está ocupado. Tente de novo em instantes."
        ),
    }
    return known.get(code, QCoreApplication.translate("Errors", "Algo deu errado. Tente de novo."))


def state_text(state: str) -> str:
    """The one-line state of a WhatsApp number."""
    texts: dict[str, str] = {
        LinkState.INITIALIZING: QCoreApplication.translate("ChannelState", "Iniciando"),
        LinkState.DISCONNECTED: QCoreApplication.translate("ChannelState", "Desconectado"),
        LinkState.CONNECTING: QCoreApplication.translate("ChannelState", "Conectando…"),
        LinkState.QR_REQUIRED: QCoreApplication.translate(
            "ChannelState", "Precisa conectar o celular"
        ),
        LinkState.PAIRING: QCoreApplication.translate(
            "ChannelState", "Aguardando a leitura do código"
        ),
        LinkState.CONNECTED: QCoreApplication.translate("ChannelState", "Conectado"),
        LinkState.ERROR: QCoreApplication.translate("ChannelState", "Com problema"),
        LinkState.SUSPENDED: QCoreApplication.translate("ChannelState", "Pausado"),
    }
    return texts.get(state, QCoreApplication.translate("ChannelState", "Situação desconhecida"))


def reason_text(reason: str | None) -> str:
    """Why the number is in its state, in plain words (empty for routine reasons)."""
    texts: dict[str, str] = {
        Reason.STARTING: QCoreApplication.translate(
            "ChannelReason", "O sistema está iniciando este número."
        ),
        Reason.CONNECTED: "",
        Reason.PAIRED: QCoreApplication.translate(
            "ChannelReason", "Celular conectado. Finalizando…"
        ),
        Reason.NOT_PAIRED: QCoreApplication.translate(
            "ChannelReason", "Leia o código QR com o WhatsApp do celular da clínica."
        ),
        Reason.PAIRING_STARTED: QCoreApplication.translate(
            "ChannelReason", "Mostrando o código para leitura."
        ),
        Reason.PAIRING_TIMEOUT: QCoreApplication.translate(
            "ChannelReason", "Ninguém leu o código a tempo. Clique em Conectar para tentar de novo."
        ),
        Reason.PAIRING_FAILED: QCoreApplication.translate(
            "ChannelReason", "A conexão com o celular não deu certo."
        ),
        Reason.CONNECTION_LOST: QCoreApplication.translate(
            "ChannelReason", "A conexão caiu. Reconectando automaticamente."
        ),
        Reason.CONNECT_FAILED: QCoreApplication.translate(
            "ChannelReason", "Sem acesso ao WhatsApp. Verifique a internet deste computador."
        ),
        Reason.SERVER_UNAVAILABLE: QCoreApplication.translate(
            "ChannelReason", "O WhatsApp está instável. Tentando novamente."
        ),
        Reason.LOGGED_OUT: QCoreApplication.translate(
            "ChannelReason", "O número foi desconectado no celular. Conecte de novo."
        ),
        Reason.MAIN_DEVICE_GONE: QCoreApplication.translate(
            "ChannelReason", "O WhatsApp do celular principal foi removido ou reinstalado."
        ),
        Reason.BANNED: QCoreApplication.translate(
            "ChannelReason", "O WhatsApp bloqueou este número."
        ),
        Reason.TEMP_BANNED: QCoreApplication.translate(
            "ChannelReason", "O WhatsApp bloqueou este número por um tempo."
        ),
        Reason.REPLACED: QCoreApplication.translate(
            "ChannelReason", "Este número foi aberto em outro computador."
        ),
        Reason.CLIENT_OUTDATED: QCoreApplication.translate(
            "ChannelReason", "É preciso atualizar o ClinicDesk para usar este número."
        ),
        Reason.WORKER_CRASHED: QCoreApplication.translate(
            "ChannelReason", "Houve uma falha interna. Reiniciando."
        ),
        Reason.WORKER_HUNG: QCoreApplication.translate(
            "ChannelReason", "O número parou de responder. Reiniciando."
        ),
        Reason.CIRCUIT_OPEN: QCoreApplication.translate(
            "ChannelReason", "Muitas falhas seguidas. Nova tentativa em alguns minutos."
        ),
        Reason.SUSPENDED_BY_USER: QCoreApplication.translate(
            "ChannelReason", "Pausado por um administrador."
        ),
        Reason.RESUMED_BY_USER: QCoreApplication.translate(
            "ChannelReason", "Retomado por um administrador."
        ),
        Reason.LOGOUT_BY_USER: QCoreApplication.translate(
            "ChannelReason", "Desconectado por um administrador."
        ),
        Reason.STOPPED: QCoreApplication.translate(
            "ChannelReason", "O serviço ClinicDesk foi encerrado."
        ),
        Reason.DEAF_SUSPECTED: QCoreApplication.translate(
            "ChannelReason", "Mensagens de pacientes pararam de chegar. Reconectando."
        ),
    }
    return texts.get(reason or "", "")


def deaf_warning_text() -> str:
    return QCoreApplication.translate(
        "ChannelReason",
        "Conectado, mas nenhuma mensagem de paciente chega há um tempo incomum.",
    )


def send_status_text(status: str | None) -> str:
    """A failed or doubtful send, explained under its bubble."""
    if status == "failed":
        return QCoreApplication.translate("Send", "Não enviada.")
    if status == "needs_review":
        return QCoreApplication.translate(
            "Send", "Envio incerto: confira no celular antes de reenviar."
        )
    return ""


def kind_text(kind: str | None) -> str:
    """A media message without text, in a word or two (inbox preview, bubbles)."""
    texts: dict[str, str] = {
        "image": QCoreApplication.translate("Kind", "📷 Foto"),
        "video": QCoreApplication.translate("Kind", "🎬 Vídeo"),
        "audio": QCoreApplication.translate("Kind", "🎤 Áudio"),
        "voice": QCoreApplication.translate("Kind", "🎤 Áudio"),
        "document": QCoreApplication.translate("Kind", "📄 Documento"),
        "sticker": QCoreApplication.translate("Kind", "🙂 Figurinha"),
        "location": QCoreApplication.translate("Kind", "📍 Localização"),
        "contact": QCoreApplication.translate("Kind", "👤 Contato"),
    }
    return texts.get(kind or "", QCoreApplication.translate("Kind", "📎 Anexo") if kind else "")


def media_error_text(error: ClinicDeskError) -> str:
    """Why a file could not be sent (``input.invalid`` with ``field=media``), else the code's
    usual text."""
    if error.code is not ErrorCode.INVALID_INPUT or error.params.get("field") != "media":
        return error_text(error)
    reason = str(error.params.get("reason") or "")
    texts: dict[str, str] = {
        "too_large": QCoreApplication.translate(
            "Errors", "Arquivo grande demais. O limite é de 10 MB."
        ),
        "unsupported_type": QCoreApplication.translate(
            "Errors", "Tipo de arquivo não permitido. Envie fotos, PDF, áudio ou vídeo."
        ),
        "empty": QCoreApplication.translate("Errors", "O arquivo está vazio."),
        "unreadable": QCoreApplication.translate("Errors", "Não foi possível ler o arquivo."),
        "not_available": QCoreApplication.translate(
            "Errors", "O envio de arquivos não está disponível neste serviço."
        ),
    }
    return texts.get(
        reason, QCoreApplication.translate("Errors", "Não foi possível enviar o arquivo.")
    )


def phone_text(e164: str | None) -> str:
    """``+5511987654321`` as ``(11) 98765-4321``; foreign numbers in international format."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, "BR")
    except phonenumbers.NumberParseException:
        return e164
    brazil = number.country_code == 55
    style = phonenumbers.PhoneNumberFormat
    return phonenumbers.format_number(number, style.NATIONAL if brazil else style.INTERNATIONAL)


def with_phone(name: str, e164: str | None) -> str:
    """``Maria Silva · (11) 98765-4321``; the name alone for a contact without a number (two
    patients of the same name are told apart by it)."""
    return f"{name} · {phone_text(e164)}" if e164 else name
