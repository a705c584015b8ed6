"""The short texts the engine sends patients on its own (beside the menu and the greetings),
each with its default in Portuguese. A branch may replace any of them: its settings hold a
text under the same key ("" or none: the default)."""

from __future__ import annotations

OPT_OUT_REPLY = "opt_out_reply"  # after SAIR / PARAR / STOP
OPT_IN_REPLY = "opt_in_reply"  # after VOLTAR from a patient who had opted out
CONFIRMATION_PROMPT = "confirmation_prompt"  # the last line of a reminder that asks
CONFIRMED_REPLY = "confirmed_reply"  # after "1" / "sim" to such a reminder
DECLINED_REPLY = "declined_reply"  # after "2" / "remarcar"
AUTO_TEXT_MAX = 1000

DEFAULTS: dict[str, str] = {
    CONFIRMATION_PROMPT: "Responda 1 para confirmar ou 2 para remarcar.",
    CONFIRMED_REPLY: "Obrigado! Sua presença está confirmada.",
    DECLINED_REPLY: "Certo! Nossa equipe vai falar com você para remarcar.",
    OPT_OUT_REPLY: (
        "Pronto! Você não receberá mais lembretes nem campanhas por aqui. "
        "Para voltar a receber, responda VOLTAR."
    ),
    OPT_IN_REPLY: "Combinado! Você voltará a receber nossos lembretes por aqui.",
}
