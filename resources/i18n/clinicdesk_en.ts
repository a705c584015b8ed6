<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en_US">
<context>
    <name>Backups</name>
    <message>
        <source>1 dia</source>
        <translation>1 day</translation>
    </message>
    <message>
        <source>%1 dias</source>
        <translation>%1 days</translation>
    </message>
    <message>
        <source>1 hora</source>
        <translation>1 hour</translation>
    </message>
    <message>
        <source>%1 horas</source>
        <translation>%1 hours</translation>
    </message>
    <message>
        <source>1 minuto</source>
        <translation>1 minute</translation>
    </message>
    <message>
        <source>%1 minutos</source>
        <translation>%1 minutes</translation>
    </message>
    <message>
        <source>agora há pouco</source>
        <translation>just now</translation>
    </message>
    <message>
        <source>há %1</source>
        <translation>%1 ago</translation>
    </message>
    <message>
        <source>em %1</source>
        <translation>in %1</translation>
    </message>
    <message>
        <source>Nunca</source>
        <translation>Never</translation>
    </message>
    <message>
        <source>espaço livre desconhecido</source>
        <translation>free space unknown</translation>
    </message>
    <message>
        <source>%1 GB livres</source>
        <translation>%1 GB free</translation>
    </message>
    <message>
        <source>Preparando a cópia dos dados…</source>
        <translation>Preparing the copy of the data…</translation>
    </message>
    <message>
        <source>Copiando fotos e documentos…</source>
        <translation>Copying photos and documents…</translation>
    </message>
    <message>
        <source>Copiando as conexões do WhatsApp…</source>
        <translation>Copying the WhatsApp connections…</translation>
    </message>
    <message>
        <source>Copiando as conversas…</source>
        <translation>Copying the conversations…</translation>
    </message>
    <message>
        <source>Gravando nos outros destinos…</source>
        <translation>Writing to the other destinations…</translation>
    </message>
    <message>
        <source>Conferindo a cópia…</source>
        <translation>Checking the backup…</translation>
    </message>
    <message>
        <source>Copiando…</source>
        <translation>Backing up…</translation>
    </message>
    <message>
        <source>Não foi possível gravar no destino: disco cheio, desconectado ou sem permissão.</source>
        <translation>Could not write to the destination: disk full, disconnected or no permission.</translation>
    </message>
    <message>
        <source>A cópia foi gravada, mas não passou na conferência e foi descartada.</source>
        <translation>The backup was written but failed its check and was discarded.</translation>
    </message>
    <message>
        <source>A cópia gravada está danificada e foi descartada.</source>
        <translation>The written backup is damaged and was discarded.</translation>
    </message>
    <message>
        <source>A chave das cópias deste computador não confere.</source>
        <translation>This computer&apos;s backup key does not match.</translation>
    </message>
    <message>
        <source>Este computador ainda não tem a chave das cópias. Chame o suporte técnico.</source>
        <translation>This computer has no backup key yet. Call technical support.</translation>
    </message>
    <message>
        <source>Já há uma cópia em andamento. Aguarde ela terminar.</source>
        <translation>A backup is already running. Wait for it to finish.</translation>
    </message>
    <message>
        <source>Ainda não há nenhuma cópia para testar.</source>
        <translation>There is no backup to test yet.</translation>
    </message>
</context>
<context>
    <name>BackupsPage</name>
    <message>
        <source>Cópias de segurança</source>
        <translation>Backups</translation>
    </message>
    <message>
        <source>Última cópia bem-sucedida</source>
        <translation>Last successful backup</translation>
    </message>
    <message>
        <source>Arquivo</source>
        <translation>File</translation>
    </message>
    <message>
        <source>Próxima cópia automática</source>
        <translation>Next automatic backup</translation>
    </message>
    <message>
        <source>Última conferência</source>
        <translation>Last check</translation>
    </message>
    <message>
        <source>Último teste de restauração</source>
        <translation>Last restore test</translation>
    </message>
    <message>
        <source>Última falha</source>
        <translation>Last failure</translation>
    </message>
    <message>
        <source>Destinos</source>
        <translation>Destinations</translation>
    </message>
    <message>
        <source>Cópias guardadas</source>
        <translation>Backups kept</translation>
    </message>
    <message>
        <source>Fazer cópia agora</source>
        <translation>Back up now</translation>
    </message>
    <message>
        <source>Não agendada</source>
        <translation>Not scheduled</translation>
    </message>
    <message>
        <source>Etapa %1 de %2:</source>
        <translation>Step %1 of %2:</translation>
    </message>
    <message>
        <source>Nenhuma</source>
        <translation>None</translation>
    </message>
    <message>
        <source>Nenhuma cópia de segurança foi feita ainda. Faça uma agora.</source>
        <translation>No backup has been made yet. Make one now.</translation>
    </message>
    <message>
        <source>A última cópia tem mais de 26 horas. Confira o destino e faça uma cópia agora.</source>
        <translation>The last backup is more than 26 hours old. Check the destination and back up now.</translation>
    </message>
    <message>
        <source>As cópias estão em dia.</source>
        <translation>Backups are up to date.</translation>
    </message>
    <message>
        <source>Copiando… Isso pode levar alguns minutos.</source>
        <translation>Backing up… This may take a few minutes.</translation>
    </message>
    <message>
        <source>Cópia feita e conferida: %1</source>
        <translation>Backup made and checked: %1</translation>
    </message>
</context>
<context>
    <name>ChannelActions</name>
    <message>
        <source>Só administradores da unidade podem mudar os números de WhatsApp.</source>
        <translation>Only the branch&apos;s administrators can change its WhatsApp numbers.</translation>
    </message>
    <message>
        <source>Desconectar número</source>
        <translation>Log out number</translation>
    </message>
    <message>
        <source>Desconectar %1 do WhatsApp?</source>
        <translation>Log %1 out of WhatsApp?</translation>
    </message>
    <message>
        <source>As mensagens deixam de chegar por este número. Para voltar a usá-lo, será preciso ler um novo código QR com o celular da clínica.</source>
        <translation>Messages will stop arriving on this number. To use it again, the clinic&apos;s phone will need to scan a new QR code.</translation>
    </message>
    <message>
        <source>Desconectar</source>
        <translation>Log out</translation>
    </message>
    <message>
        <source>Cancelar</source>
        <translation>Cancel</translation>
    </message>
</context>
<context>
    <name>ChannelCard</name>
    <message>
        <source>Conectar celular</source>
        <translation>Link phone</translation>
    </message>
    <message>
        <source>Reconectar</source>
        <translation>Reconnect</translation>
    </message>
    <message>
        <source>Parear por código</source>
        <translation>Pair with code</translation>
    </message>
    <message>
        <source>Pausar</source>
        <translation>Pause</translation>
    </message>
    <message>
        <source>Retomar</source>
        <translation>Resume</translation>
    </message>
    <message>
        <source>Histórico</source>
        <translation>History</translation>
    </message>
    <message>
        <source>Desconectar número</source>
        <translation>Log out number</translation>
    </message>
</context>
<context>
    <name>ChannelReason</name>
    <message>
        <source>O sistema está iniciando este número.</source>
        <translation>The system is starting this number.</translation>
    </message>
    <message>
        <source>Celular conectado. Finalizando…</source>
        <translation>Phone linked. Finishing…</translation>
    </message>
    <message>
        <source>Leia o código QR com o WhatsApp do celular da clínica.</source>
        <translation>Scan the QR code with WhatsApp on the clinic&apos;s phone.</translation>
    </message>
    <message>
        <source>Mostrando o código para leitura.</source>
        <translation>Showing the code to scan.</translation>
    </message>
    <message>
        <source>Ninguém leu o código a tempo. Clique em Conectar para tentar de novo.</source>
        <translation>Nobody scanned the code in time. Click Link to try again.</translation>
    </message>
    <message>
        <source>A conexão com o celular não deu certo.</source>
        <translation>Linking the phone did not work.</translation>
    </message>
    <message>
        <source>A conexão caiu. Reconectando automaticamente.</source>
        <translation>The connection dropped. Reconnecting automatically.</translation>
    </message>
    <message>
        <source>Sem acesso ao WhatsApp. Verifique a internet deste computador.</source>
        <translation>Cannot reach WhatsApp. Check this computer&apos;s internet.</translation>
    </message>
    <message>
        <source>O WhatsApp está instável. Tentando novamente.</source>
        <translation>WhatsApp is unstable. Trying again.</translation>
    </message>
    <message>
        <source>O número foi desconectado no celular. Conecte de novo.</source>
        <translation>The number was unlinked on the phone. Link it again.</translation>
    </message>
    <message>
        <source>O WhatsApp do celular principal foi removido ou reinstalado.</source>
        <translation>WhatsApp on the main phone was removed or reinstalled.</translation>
    </message>
    <message>
        <source>O WhatsApp bloqueou este número.</source>
        <translation>WhatsApp blocked this number.</translation>
    </message>
    <message>
        <source>O WhatsApp bloqueou este número por um tempo.</source>
        <translation>WhatsApp blocked this number for a while.</translation>
    </message>
    <message>
        <source>Este número foi aberto em outro computador.</source>
        <translation>This number was opened on another computer.</translation>
    </message>
    <message>
        <source>É preciso atualizar o ClinicDesk para usar este número.</source>
        <translation>ClinicDesk must be updated to use this number.</translation>
    </message>
    <message>
        <source>Houve uma falha interna. Reiniciando.</source>
        <translation>An internal failure happened. Restarting.</translation>
    </message>
    <message>
        <source>O número parou de responder. Reiniciando.</source>
        <translation>The number stopped responding. Restarting.</translation>
    </message>
    <message>
        <source>Muitas falhas seguidas. Nova tentativa em alguns minutos.</source>
        <translation>Too many failures in a row. Trying again in a few minutes.</translation>
    </message>
    <message>
        <source>Pausado por um administrador.</source>
        <translation>Paused by an administrator.</translation>
    </message>
    <message>
        <source>Retomado por um administrador.</source>
        <translation>Resumed by an administrator.</translation>
    </message>
    <message>
        <source>Desconectado por um administrador.</source>
        <translation>Unlinked by an administrator.</translation>
    </message>
    <message>
        <source>O serviço ClinicDesk foi encerrado.</source>
        <translation>The ClinicDesk service was stopped.</translation>
    </message>
    <message>
        <source>Mensagens de pacientes pararam de chegar. Reconectando.</source>
        <translation>Patient messages stopped arriving. Reconnecting.</translation>
    </message>
    <message>
        <source>Conectado, mas nenhuma mensagem de paciente chega há um tempo incomum.</source>
        <translation>Connected, but no patient message has arrived for an unusually long time.</translation>
    </message>
</context>
<context>
    <name>ChannelState</name>
    <message>
        <source>Iniciando</source>
        <translation>Starting</translation>
    </message>
    <message>
        <source>Desconectado</source>
        <translation>Disconnected</translation>
    </message>
    <message>
        <source>Conectando…</source>
        <translation>Connecting…</translation>
    </message>
    <message>
        <source>Precisa conectar o celular</source>
        <translation>Phone needs to be linked</translation>
    </message>
    <message>
        <source>Aguardando a leitura do código</source>
        <translation>Waiting for the code to be scanned</translation>
    </message>
    <message>
        <source>Conectado</source>
        <translation>Connected</translation>
    </message>
    <message>
        <source>Com problema</source>
        <translation>Has a problem</translation>
    </message>
    <message>
        <source>Pausado</source>
        <translation>Paused</translation>
    </message>
    <message>
        <source>Situação desconhecida</source>
        <translation>Unknown state</translation>
    </message>
</context>
<context>
    <name>ChannelsPage</name>
    <message>
        <source>Números de WhatsApp</source>
        <translation>WhatsApp numbers</translation>
    </message>
</context>
<context>
    <name>Chat</name>
    <message>
        <source>Reagiu com %1</source>
        <translation>Reacted with %1</translation>
    </message>
    <message>
        <source>⚠ Arquivo não recebido (tipo não permitido)</source>
        <translation>⚠ File not received (type not allowed)</translation>
    </message>
    <message>
        <source>Anexo</source>
        <translation>Attachment</translation>
    </message>
    <message>
        <source>Abrir</source>
        <translation>Open</translation>
    </message>
    <message>
        <source>Salvar</source>
        <translation>Save</translation>
    </message>
    <message>
        <source>(mensagem sem texto)</source>
        <translation>(message without text)</translation>
    </message>
</context>
<context>
    <name>ClinicPage</name>
    <message>
        <source>Confira o horário de atendimento.</source>
        <translation>Check the opening hours.</translation>
    </message>
    <message>
        <source>Fuso horário desconhecido.</source>
        <translation>Unknown time zone.</translation>
    </message>
    <message>
        <source>A mensagem fora do horário é longa demais.</source>
        <translation>The after-hours message is too long.</translation>
    </message>
    <message>
        <source>A primeira linha do menu é longa demais.</source>
        <translation>The first line of the menu is too long.</translation>
    </message>
    <message>
        <source>O nome da clínica é longo demais (até 120 caracteres).</source>
        <translation>The clinic name is too long (up to 120 characters).</translation>
    </message>
    <message>
        <source>Uma das mensagens automáticas é longa demais (até 1000 caracteres).</source>
        <translation>One of the automatic messages is too long (up to 1000 characters).</translation>
    </message>
    <message>
        <source>Clínica</source>
        <translation>Clinic</translation>
    </message>
    <message>
        <source>Horário e mensagens</source>
        <translation>Hours and messages</translation>
    </message>
    <message>
        <source>Filas</source>
        <translation>Queues</translation>
    </message>
    <message>
        <source>Respostas rápidas</source>
        <translation>Quick replies</translation>
    </message>
    <message>
        <source>Alterações não salvas</source>
        <translation>Unsaved changes</translation>
    </message>
    <message>
        <source>As alterações do horário e das mensagens não foram salvas. Descartar?</source>
        <translation>The changes to the hours and messages were not saved. Discard them?</translation>
    </message>
</context>
<context>
    <name>Composer</name>
    <message>
        <source>Digite uma mensagem ou / para respostas rápidas</source>
        <translation>Type a message, or / for quick replies</translation>
    </message>
</context>
<context>
    <name>ContactPanel</name>
    <message>
        <source>Não quer receber lembretes</source>
        <translation>Does not want reminders</translation>
    </message>
    <message>
        <source>Primeiro atendimento deste paciente.</source>
        <translation>This patient&apos;s first ticket.</translation>
    </message>
    <message>
        <source>Nova etiqueta</source>
        <translation>New tag</translation>
    </message>
    <message>
        <source>Agendar lembrete…</source>
        <translation>Schedule a reminder…</translation>
    </message>
    <message>
        <source>Nota interna (o paciente não vê)</source>
        <translation>Internal note (the patient does not see it)</translation>
    </message>
    <message>
        <source>Adicionar nota</source>
        <translation>Add note</translation>
    </message>
    <message>
        <source>Atendimentos anteriores</source>
        <translation>Earlier tickets</translation>
    </message>
    <message>
        <source>Etiquetas</source>
        <translation>Tags</translation>
    </message>
    <message>
        <source>Notas internas</source>
        <translation>Internal notes</translation>
    </message>
    <message>
        <source>Nenhum atendimento aberto</source>
        <translation>No conversation open</translation>
    </message>
    <message>
        <source>Paciente sem nome</source>
        <translation>Unnamed patient</translation>
    </message>
    <message>
        <source>Número: %1</source>
        <translation>Number: %1</translation>
    </message>
    <message>
        <source>Fila: %1</source>
        <translation>Queue: %1</translation>
    </message>
    <message>
        <source>Atendimento #%1</source>
        <translation>Ticket #%1</translation>
    </message>
    <message>
        <source>O paciente pediu para não receber lembretes.</source>
        <translation>The patient asked not to receive reminders.</translation>
    </message>
    <message>
        <source>Remover a etiqueta</source>
        <translation>Remove the tag</translation>
    </message>
    <message>
        <source>Aguardando</source>
        <translation>Waiting</translation>
    </message>
    <message>
        <source>Em atendimento</source>
        <translation>In progress</translation>
    </message>
    <message>
        <source>Resolvido</source>
        <translation>Resolved</translation>
    </message>
    <message>
        <source>Atendimento de outra fila: você não tem acesso</source>
        <translation>Ticket in another queue: you have no access</translation>
    </message>
</context>
<context>
    <name>ContactsPage</name>
    <message>
        <source>Mostrar mais</source>
        <translation>Show more</translation>
    </message>
    <message>
        <source>Buscar paciente pelo nome ou telefone</source>
        <translation>Find a patient by name or phone</translation>
    </message>
    <message>
        <source>Digite um nome ou telefone para buscar.</source>
        <translation>Type a name or phone number to search.</translation>
    </message>
    <message>
        <source>Iniciar conversa</source>
        <translation>Start conversation</translation>
    </message>
    <message>
        <source>Exportar dados do paciente…</source>
        <translation>Export the patient&apos;s data…</translation>
    </message>
    <message>
        <source>Tudo o que a clínica guarda deste paciente, para um pedido da LGPD</source>
        <translation>Everything the clinic keeps about this patient, for an LGPD request</translation>
    </message>
    <message>
        <source>Apagar dados do paciente…</source>
        <translation>Erase the patient&apos;s data…</translation>
    </message>
    <message>
        <source>Atendimentos do paciente</source>
        <translation>Patient&apos;s conversations</translation>
    </message>
    <message>
        <source>Paciente sem nome</source>
        <translation>Patient without a name</translation>
    </message>
    <message>
        <source>Nenhum paciente encontrado.</source>
        <translation>No patient found.</translation>
    </message>
    <message>
        <source>Escolha um paciente na lista</source>
        <translation>Choose a patient from the list</translation>
    </message>
    <message>
        <source>Não quer receber lembretes (desde %1)</source>
        <translation>Does not want reminders (since %1)</translation>
    </message>
    <message>
        <source>Salvar os dados do paciente</source>
        <translation>Save the patient&apos;s data</translation>
    </message>
    <message>
        <source>Arquivo ZIP (*.zip)</source>
        <translation>ZIP file (*.zip)</translation>
    </message>
    <message>
        <source>Preparando o arquivo…</source>
        <translation>Preparing the file…</translation>
    </message>
    <message>
        <source>Não foi possível salvar o arquivo nessa pasta.</source>
        <translation>The file could not be saved in that folder.</translation>
    </message>
    <message>
        <source>Arquivo salvo em %1. Senha: %2
Entregue a senha ao paciente por outro meio (ligação ou pessoalmente), nunca junto com o arquivo. Ele abre com 7-Zip, WinRAR ou um aplicativo de arquivos ZIP no celular.</source>
        <translation>File saved as %1. Password: %2
Give the password to the patient another way (a call or in person), never with the file. It opens with 7-Zip, WinRAR or a ZIP app on a phone.</translation>
    </message>
    <message>
        <source>Apagar dados do paciente</source>
        <translation>Erase the patient&apos;s data</translation>
    </message>
    <message>
        <source>As mensagens, fotos, documentos, lembretes e números deste paciente serão apagados para sempre (LGPD). As conversas ficam, vazias, nos relatórios.
Digite APAGAR para confirmar.</source>
        <translation>This patient&apos;s messages, photos, documents, reminders and numbers will be erased for good (LGPD). The conversations stay, empty, in the reports.
Type APAGAR to confirm.</translation>
    </message>
    <message>
        <source>Dados do paciente apagados: %1 mensagens e %2 arquivos.</source>
        <translation>Patient&apos;s data erased: %1 messages and %2 files.</translation>
    </message>
</context>
<context>
    <name>ConversationFiles</name>
    <message>
        <source>Salvar arquivo</source>
        <translation>Save file</translation>
    </message>
    <message>
        <source>Enviar arquivo</source>
        <translation>Send file</translation>
    </message>
    <message>
        <source>Não foi possível gravar o arquivo nesse local.</source>
        <translation>The file could not be saved there.</translation>
    </message>
    <message>
        <source>Nenhum programa deste computador abre este arquivo.</source>
        <translation>No program on this computer opens this file.</translation>
    </message>
</context>
<context>
    <name>ConversationPane</name>
    <message>
        <source>Atender</source>
        <translation>Accept</translation>
    </message>
    <message>
        <source>Resolver</source>
        <translation>Resolve</translation>
    </message>
    <message>
        <source>Reabrir</source>
        <translation>Reopen</translation>
    </message>
    <message>
        <source>Transferir…</source>
        <translation>Transfer…</translation>
    </message>
    <message>
        <source>Enviar</source>
        <translation>Send</translation>
    </message>
    <message>
        <source>Emoji</source>
        <translation>Emoji</translation>
    </message>
    <message>
        <source>Enviar arquivo (ou arraste para a conversa)</source>
        <translation>Send a file (or drag it onto the conversation)</translation>
    </message>
    <message>
        <source>Escolha um atendimento</source>
        <translation>Choose a conversation</translation>
    </message>
    <message>
        <source>As mensagens do paciente aparecem aqui.</source>
        <translation>The patient&apos;s messages appear here.</translation>
    </message>
    <message>
        <source>Paciente sem nome</source>
        <translation>Unnamed patient</translation>
    </message>
    <message>
        <source>Aguardando atendimento</source>
        <translation>Waiting</translation>
    </message>
    <message>
        <source>Em atendimento</source>
        <translation>In progress</translation>
    </message>
    <message>
        <source>Resolvido</source>
        <translation>Resolved</translation>
    </message>
</context>
<context>
    <name>Errors</name>
    <message>
        <source>Não foi possível conectar ao serviço ClinicDesk. Tentando novamente…</source>
        <translation>Could not connect to the ClinicDesk service. Trying again…</translation>
    </message>
    <message>
        <source>Usuário ou senha incorretos.</source>
        <translation>Wrong username or password.</translation>
    </message>
    <message>
        <source>Muitas tentativas. Aguarde um pouco e tente de novo.</source>
        <translation>Too many attempts. Wait a little and try again.</translation>
    </message>
    <message>
        <source>Sua sessão terminou. Entre novamente.</source>
        <translation>Your session ended. Please log in again.</translation>
    </message>
    <message>
        <source>Este usuário está desativado.</source>
        <translation>This user is disabled.</translation>
    </message>
    <message>
        <source>Você não tem permissão para fazer isso.</source>
        <translation>You are not allowed to do that.</translation>
    </message>
    <message>
        <source>Você não tem acesso a esta unidade.</source>
        <translation>You have no access to this branch.</translation>
    </message>
    <message>
        <source>Não encontrado. Talvez já tenha sido removido.</source>
        <translation>Not found. It may have been removed.</translation>
    </message>
    <message>
        <source>Confira os dados informados.</source>
        <translation>Please check what you entered.</translation>
    </message>
    <message>
        <source>Este número já está conectado.</source>
        <translation>This number is already linked.</translation>
    </message>
    <message>
        <source>Este número não está ativo no momento.</source>
        <translation>This number is not active right now.</translation>
    </message>
    <message>
        <source>O código não foi lido a tempo. Gere um novo.</source>
        <translation>The code was not scanned in time. Generate a new one.</translation>
    </message>
    <message>
        <source>Não foi possível conectar o celular.</source>
        <translation>Could not link the phone.</translation>
    </message>
    <message>
        <source>O sistema está ocupado. Tente de novo em instantes.</source>
        <translation>The system is busy. Try again in a moment.</translation>
    </message>
    <message>
        <source>Algo deu errado. Tente de novo.</source>
        <translation>Something went wrong. Try again.</translation>
    </message>
    <message>
        <source>Arquivo grande demais. O limite é de 10 MB.</source>
        <translation>File too large. The limit is 10 MB.</translation>
    </message>
    <message>
        <source>Tipo de arquivo não permitido. Envie fotos, PDF, áudio ou vídeo.</source>
        <translation>File type not allowed. Send photos, PDF, audio or video.</translation>
    </message>
    <message>
        <source>O arquivo está vazio.</source>
        <translation>The file is empty.</translation>
    </message>
    <message>
        <source>Não foi possível ler o arquivo.</source>
        <translation>The file could not be read.</translation>
    </message>
    <message>
        <source>O envio de arquivos não está disponível neste serviço.</source>
        <translation>Sending files is not available on this service.</translation>
    </message>
    <message>
        <source>Não foi possível enviar o arquivo.</source>
        <translation>The file could not be sent.</translation>
    </message>
</context>
<context>
    <name>FilterBar</name>
    <message>
        <source>Todas as filas</source>
        <translation>All queues</translation>
    </message>
    <message>
        <source>Todos os números</source>
        <translation>All numbers</translation>
    </message>
    <message>
        <source>Etiqueta</source>
        <translation>Tag</translation>
    </message>
    <message>
        <source>Meus</source>
        <translation>Mine</translation>
    </message>
    <message>
        <source>Só os atendimentos atribuídos a mim</source>
        <translation>Only the tickets assigned to me</translation>
    </message>
</context>
<context>
    <name>HistoryDialog</name>
    <message>
        <source>Histórico de %1</source>
        <translation>History of %1</translation>
    </message>
    <message>
        <source>Fechar</source>
        <translation>Close</translation>
    </message>
    <message>
        <source>Nenhuma mudança registrada.</source>
        <translation>No changes recorded.</translation>
    </message>
</context>
<context>
    <name>HoursGrid</name>
    <message>
        <source>Sempre aberto (sem horário)</source>
        <translation>Always open (no hours)</translation>
    </message>
    <message>
        <source>das</source>
        <translation>from</translation>
    </message>
    <message>
        <source>às</source>
        <translation>to</translation>
    </message>
    <message>
        <source>e das</source>
        <translation>and from</translation>
    </message>
    <message>
        <source>Segunda</source>
        <translation>Monday</translation>
    </message>
    <message>
        <source>Terça</source>
        <translation>Tuesday</translation>
    </message>
    <message>
        <source>Quarta</source>
        <translation>Wednesday</translation>
    </message>
    <message>
        <source>Quinta</source>
        <translation>Thursday</translation>
    </message>
    <message>
        <source>Sexta</source>
        <translation>Friday</translation>
    </message>
    <message>
        <source>Sábado</source>
        <translation>Saturday</translation>
    </message>
    <message>
        <source>Domingo</source>
        <translation>Sunday</translation>
    </message>
    <message>
        <source>Algum dia tem mais de dois períodos: aqui aparecem os dois primeiros, e salvar o horário guarda só esses.</source>
        <translation>A day has more than two periods: the first two are shown here, and saving the hours keeps only those.</translation>
    </message>
    <message>
        <source>Marque ao menos um dia aberto, ou &quot;Sempre aberto&quot;.</source>
        <translation>Tick at least one open day, or &quot;Always open&quot;.</translation>
    </message>
    <message>
        <source>Em cada período, o fim deve ser depois do início.</source>
        <translation>In each period, the end must come after the start.</translation>
    </message>
</context>
<context>
    <name>Inbox</name>
    <message>
        <source>agora</source>
        <translation>now</translation>
    </message>
    <message>
        <source>%1 min</source>
        <translation>%1 min</translation>
    </message>
    <message>
        <source>%1 h</source>
        <translation>%1 h</translation>
    </message>
    <message>
        <source>%1 d</source>
        <translation>%1 d</translation>
    </message>
    <message>
        <source>Paciente</source>
        <translation>Patient</translation>
    </message>
    <message>
        <source>Espera</source>
        <translation>Waiting</translation>
    </message>
    <message>
        <source>Fila</source>
        <translation>Queue</translation>
    </message>
    <message>
        <source>Carregando…</source>
        <translation>Loading…</translation>
    </message>
    <message>
        <source>Automática: %1</source>
        <translation>Automatic: %1</translation>
    </message>
    <message>
        <source>Você: %1</source>
        <translation>You: %1</translation>
    </message>
    <message>
        <source>Paciente sem nome</source>
        <translation>Unnamed patient</translation>
    </message>
</context>
<context>
    <name>InboxPage</name>
    <message>
        <source>Aguardando</source>
        <translation>Waiting</translation>
    </message>
    <message>
        <source>Em atendimento</source>
        <translation>In progress</translation>
    </message>
    <message>
        <source>Resolvidos</source>
        <translation>Resolved</translation>
    </message>
    <message>
        <source>Buscar mensagens e contatos</source>
        <translation>Search messages and contacts</translation>
    </message>
    <message>
        <source>Nova conversa</source>
        <translation>New conversation</translation>
    </message>
    <message>
        <source>Nenhum atendimento deste paciente que você possa abrir.</source>
        <translation>This patient has no conversation you may open.</translation>
    </message>
</context>
<context>
    <name>Kind</name>
    <message>
        <source>📷 Foto</source>
        <translation>📷 Photo</translation>
    </message>
    <message>
        <source>🎬 Vídeo</source>
        <translation>🎬 Video</translation>
    </message>
    <message>
        <source>🎤 Áudio</source>
        <translation>🎤 Audio</translation>
    </message>
    <message>
        <source>📄 Documento</source>
        <translation>📄 Document</translation>
    </message>
    <message>
        <source>🙂 Figurinha</source>
        <translation>🙂 Sticker</translation>
    </message>
    <message>
        <source>📍 Localização</source>
        <translation>📍 Location</translation>
    </message>
    <message>
        <source>👤 Contato</source>
        <translation>👤 Contact</translation>
    </message>
    <message>
        <source>📎 Anexo</source>
        <translation>📎 Attachment</translation>
    </message>
</context>
<context>
    <name>LockPanel</name>
    <message>
        <source>Tela bloqueada por inatividade</source>
        <translation>Screen locked after inactivity</translation>
    </message>
    <message>
        <source>Digite a senha de %1 para continuar.</source>
        <translation>Enter the password of %1 to continue.</translation>
    </message>
    <message>
        <source>Senha</source>
        <translation>Password</translation>
    </message>
    <message>
        <source>Desbloquear</source>
        <translation>Unlock</translation>
    </message>
</context>
<context>
    <name>LoginDialog</name>
    <message>
        <source>ClinicDesk — Entrar</source>
        <translation>ClinicDesk — Log in</translation>
    </message>
    <message>
        <source>Bem-vindo ao ClinicDesk</source>
        <translation>Welcome to ClinicDesk</translation>
    </message>
    <message>
        <source>Unidade</source>
        <translation>Branch</translation>
    </message>
    <message>
        <source>Usuário</source>
        <translation>Username</translation>
    </message>
    <message>
        <source>Senha</source>
        <translation>Password</translation>
    </message>
    <message>
        <source>Entrar</source>
        <translation>Log in</translation>
    </message>
    <message>
        <source>Informe usuário e senha.</source>
        <translation>Enter username and password.</translation>
    </message>
    <message>
        <source>Escolha a unidade em que vai trabalhar.</source>
        <translation>Choose the branch you will work in.</translation>
    </message>
    <message>
        <source>Continuar</source>
        <translation>Continue</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Atendimentos</source>
        <translation>Conversations</translation>
    </message>
    <message>
        <source>Contatos</source>
        <translation>Contacts</translation>
    </message>
    <message>
        <source>Canais</source>
        <translation>Channels</translation>
    </message>
    <message>
        <source>Painel</source>
        <translation>Dashboard</translation>
    </message>
    <message>
        <source>Lembretes</source>
        <translation>Reminders</translation>
    </message>
    <message>
        <source>Configurações</source>
        <translation>Settings</translation>
    </message>
    <message>
        <source>Clínica</source>
        <translation>Clinic</translation>
    </message>
    <message>
        <source>Cópias de segurança</source>
        <translation>Backups</translation>
    </message>
    <message>
        <source>Lembrete agendado.</source>
        <translation>Reminder scheduled.</translation>
    </message>
</context>
<context>
    <name>MembersDialog</name>
    <message>
        <source>Atendentes da fila %1</source>
        <translation>Staff of queue %1</translation>
    </message>
    <message>
        <source>Quem está marcado vê e atende as conversas desta fila.</source>
        <translation>Whoever is ticked sees and answers this queue&apos;s conversations.</translation>
    </message>
    <message>
        <source>Salvar</source>
        <translation>Save</translation>
    </message>
    <message>
        <source>Cancelar</source>
        <translation>Cancel</translation>
    </message>
</context>
<context>
    <name>NewReminderDialog</name>
    <message>
        <source>Novo lembrete</source>
        <translation>New reminder</translation>
    </message>
    <message>
        <source>Digite o nome ou o telefone do paciente</source>
        <translation>Type the patient&apos;s name or phone</translation>
    </message>
    <message>
        <source>Olá {primeiro_nome}, lembramos da sua consulta amanhã na {clinica}.</source>
        <translation>Hello {primeiro_nome}, a reminder of your appointment tomorrow at {clinica}.</translation>
    </message>
    <message>
        <source>Pedir confirmação (o paciente responde 1 para confirmar ou 2 para remarcar)</source>
        <translation>Ask for confirmation (the patient replies 1 to confirm or 2 to reschedule)</translation>
    </message>
    <message>
        <source>Escrever a mensagem</source>
        <translation>Write the message</translation>
    </message>
    <message>
        <source>Uma vez</source>
        <translation>Once</translation>
    </message>
    <message>
        <source>Todo dia</source>
        <translation>Every day</translation>
    </message>
    <message>
        <source>Toda semana</source>
        <translation>Every week</translation>
    </message>
    <message>
        <source>A cada 30 dias</source>
        <translation>Every 30 days</translation>
    </message>
    <message>
        <source>Paciente</source>
        <translation>Patient</translation>
    </message>
    <message>
        <source>Número que envia</source>
        <translation>Sending number</translation>
    </message>
    <message>
        <source>Modelo</source>
        <translation>Template</translation>
    </message>
    <message>
        <source>Mensagem</source>
        <translation>Message</translation>
    </message>
    <message>
        <source>Quando</source>
        <translation>When</translation>
    </message>
    <message>
        <source>Repetir</source>
        <translation>Repeat</translation>
    </message>
    <message>
        <source>{nome} e {clinica} viram o nome do paciente e o da clínica.</source>
        <translation>{nome} and {clinica} become the patient&apos;s and the clinic&apos;s names.</translation>
    </message>
    <message>
        <source>Agendar</source>
        <translation>Schedule</translation>
    </message>
    <message>
        <source>Cancelar</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <source>Paciente sem nome</source>
        <translation>Unnamed patient</translation>
    </message>
    <message>
        <source>Nenhum paciente encontrado.</source>
        <translation>No patient found.</translation>
    </message>
    <message>
        <source>Escolha pelo menos um paciente.</source>
        <translation>Choose at least one patient.</translation>
    </message>
    <message>
        <source>Nenhum número conectado para enviar.</source>
        <translation>No connected number to send from.</translation>
    </message>
    <message>
        <source>Escreva a mensagem do lembrete.</source>
        <translation>Write the reminder&apos;s message.</translation>
    </message>
</context>
<context>
    <name>Notifier</name>
    <message>
        <source>Abrir ClinicDesk</source>
        <translation>Open ClinicDesk</translation>
    </message>
    <message>
        <source>%1 mensagens não lidas</source>
        <translation>%1 unread messages</translation>
    </message>
    <message>
        <source>Paciente</source>
        <translation>Patient</translation>
    </message>
    <message>
        <source>Nova mensagem de paciente</source>
        <translation>New message from a patient</translation>
    </message>
</context>
<context>
    <name>Painel</name>
    <message>
        <source>%1 min</source>
        <translation>%1 min</translation>
    </message>
    <message>
        <source>%1 h %2 min</source>
        <translation>%1 h %2 min</translation>
    </message>
</context>
<context>
    <name>PainelPage</name>
    <message>
        <source>Painel de hoje</source>
        <translation>Today&apos;s dashboard</translation>
    </message>
    <message>
        <source>Números conectados</source>
        <translation>Numbers connected</translation>
    </message>
    <message>
        <source>Mensagens recebidas hoje</source>
        <translation>Messages received today</translation>
    </message>
    <message>
        <source>Mensagens enviadas hoje</source>
        <translation>Messages sent today</translation>
    </message>
    <message>
        <source>Aguardando atendimento</source>
        <translation>Waiting for service</translation>
    </message>
    <message>
        <source>Tempo médio da 1ª resposta</source>
        <translation>Average first response time</translation>
    </message>
    <message>
        <source>Tempo médio de resolução</source>
        <translation>Average resolution time</translation>
    </message>
    <message>
        <source>Confirmaram (lembretes de hoje)</source>
        <translation>Confirmed (today&apos;s reminders)</translation>
    </message>
    <message>
        <source>Pediram para remarcar</source>
        <translation>Asked to reschedule</translation>
    </message>
    <message>
        <source>Por fila (hoje)</source>
        <translation>Per queue (today)</translation>
    </message>
    <message>
        <source>Fila</source>
        <translation>Queue</translation>
    </message>
    <message>
        <source>Aguardando</source>
        <translation>Waiting</translation>
    </message>
    <message>
        <source>1ª resposta (média)</source>
        <translation>1st reply (average)</translation>
    </message>
    <message>
        <source>Resolvidos</source>
        <translation>Resolved</translation>
    </message>
    <message>
        <source>Resolução (média)</source>
        <translation>Resolution (average)</translation>
    </message>
    <message>
        <source>Mensagens por hora (hoje)</source>
        <translation>Messages per hour (today)</translation>
    </message>
    <message>
        <source>Recebidas</source>
        <translation>Received</translation>
    </message>
    <message>
        <source>Enviadas</source>
        <translation>Sent</translation>
    </message>
    <message>
        <source>%1 de %2</source>
        <translation>%1 of %2</translation>
    </message>
    <message>
        <source>Sem fila</source>
        <translation>No queue</translation>
    </message>
</context>
<context>
    <name>PairCodeDialog</name>
    <message>
        <source>Parear %1 por código</source>
        <translation>Pair %1 with a code</translation>
    </message>
    <message>
        <source>Número do celular, com DDD</source>
        <translation>Phone number, with area code</translation>
    </message>
    <message>
        <source>Gerar código</source>
        <translation>Get code</translation>
    </message>
    <message>
        <source>No celular da clínica, abra o WhatsApp → Aparelhos conectados → Conectar um aparelho → Conectar com número de telefone, e digite o código abaixo.</source>
        <translation>On the clinic&apos;s phone, open WhatsApp → Linked devices → Link a device → Link with phone number instead, and type the code below.</translation>
    </message>
    <message>
        <source>Fechar</source>
        <translation>Close</translation>
    </message>
</context>
<context>
    <name>PairingDialog</name>
    <message>
        <source>Conectar %1</source>
        <translation>Link %1</translation>
    </message>
    <message>
        <source>Gerando o código…</source>
        <translation>Generating the code…</translation>
    </message>
    <message>
        <source>No celular da clínica, abra o WhatsApp → Aparelhos conectados → Conectar um aparelho, e aponte a câmera para o código.</source>
        <translation>On the clinic&apos;s phone, open WhatsApp → Linked devices → Link a device, and point the camera at the code.</translation>
    </message>
    <message>
        <source>Fechar</source>
        <translation>Close</translation>
    </message>
    <message>
        <source>O código vale por mais %1 s</source>
        <translation>The code is valid for %1 more s</translation>
    </message>
    <message>
        <source>Código expirado. Aguarde um novo…</source>
        <translation>Code expired. Wait for a new one…</translation>
    </message>
</context>
<context>
    <name>QueueDialog</name>
    <message>
        <source>Azul</source>
        <translation>Blue</translation>
    </message>
    <message>
        <source>Verde</source>
        <translation>Green</translation>
    </message>
    <message>
        <source>Laranja</source>
        <translation>Orange</translation>
    </message>
    <message>
        <source>Vermelho</source>
        <translation>Red</translation>
    </message>
    <message>
        <source>Roxo</source>
        <translation>Purple</translation>
    </message>
    <message>
        <source>Rosa</source>
        <translation>Pink</translation>
    </message>
    <message>
        <source>Turquesa</source>
        <translation>Teal</translation>
    </message>
    <message>
        <source>Cinza</source>
        <translation>Grey</translation>
    </message>
    <message>
        <source>Já existe uma fila com este nome.</source>
        <translation>A queue with this name already exists.</translation>
    </message>
    <message>
        <source>Dê à fila um nome de até 80 letras.</source>
        <translation>Give the queue a name of up to 80 letters.</translation>
    </message>
    <message>
        <source>Editar fila</source>
        <translation>Edit queue</translation>
    </message>
    <message>
        <source>Nova fila</source>
        <translation>New queue</translation>
    </message>
    <message>
        <source>Enviada quando o paciente escolhe esta fila</source>
        <translation>Sent when the patient chooses this queue</translation>
    </message>
    <message>
        <source>Nome (aparece no menu)</source>
        <translation>Name (shown in the menu)</translation>
    </message>
    <message>
        <source>Mensagem de boas-vindas</source>
        <translation>Welcome message</translation>
    </message>
    <message>
        <source>Posição no menu</source>
        <translation>Position in the menu</translation>
    </message>
    <message>
        <source>Cor no atendimento</source>
        <translation>Colour in the inbox</translation>
    </message>
    <message>
        <source>Salvar</source>
        <translation>Save</translation>
    </message>
    <message>
        <source>Cancelar</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <source>Dê um nome à fila.</source>
        <translation>Give the queue a name.</translation>
    </message>
</context>
<context>
    <name>QueuesTab</name>
    <message>
        <source>Nº no menu</source>
        <translation>No. in menu</translation>
    </message>
    <message>
        <source>Fila</source>
        <translation>Queue</translation>
    </message>
    <message>
        <source>Mensagem de boas-vindas</source>
        <translation>Welcome message</translation>
    </message>
    <message>
        <source>O paciente recebe o menu com as filas nesta ordem e responde com o número. Só atendentes da fila veem as conversas dela.</source>
        <translation>The patient gets the menu with the queues in this order and answers with the number. Only the queue&apos;s staff see its conversations.</translation>
    </message>
    <message>
        <source>Nova fila</source>
        <translation>New queue</translation>
    </message>
    <message>
        <source>Editar</source>
        <translation>Edit</translation>
    </message>
    <message>
        <source>Atendentes…</source>
        <translation>Staff…</translation>
    </message>
    <message>
        <source>Nenhuma fila ainda: o paciente não recebe menu.</source>
        <translation>No queues yet: patients get no menu.</translation>
    </message>
</context>
<context>
    <name>RemindersModel</name>
    <message>
        <source>Paciente</source>
        <translation>Patient</translation>
    </message>
    <message>
        <source>Quando</source>
        <translation>When</translation>
    </message>
    <message>
        <source>Repetição</source>
        <translation>Repeats</translation>
    </message>
    <message>
        <source>Número</source>
        <translation>Number</translation>
    </message>
    <message>
        <source>Mensagem</source>
        <translation>Message</translation>
    </message>
    <message>
        <source>Situação</source>
        <translation>Status</translation>
    </message>
    <message>
        <source>Resposta</source>
        <translation>Answer</translation>
    </message>
    <message>
        <source>Paciente nº %1</source>
        <translation>Patient no. %1</translation>
    </message>
    <message>
        <source>Confirmou</source>
        <translation>Confirmed</translation>
    </message>
    <message>
        <source>Pediu para remarcar</source>
        <translation>Asked to reschedule</translation>
    </message>
    <message>
        <source>Aguardando resposta</source>
        <translation>Waiting for an answer</translation>
    </message>
    <message>
        <source>Sem resposta</source>
        <translation>No answer</translation>
    </message>
    <message>
        <source>Vai pedir confirmação</source>
        <translation>Will ask for confirmation</translation>
    </message>
    <message>
        <source>Programado</source>
        <translation>Custom schedule</translation>
    </message>
    <message>
        <source>Uma vez</source>
        <translation>Once</translation>
    </message>
    <message>
        <source>Todo dia</source>
        <translation>Every day</translation>
    </message>
    <message>
        <source>Toda semana</source>
        <translation>Every week</translation>
    </message>
    <message>
        <source>A cada %1 dias</source>
        <translation>Every %1 days</translation>
    </message>
    <message>
        <source>Agendado</source>
        <translation>Scheduled</translation>
    </message>
    <message>
        <source>Enviado</source>
        <translation>Sent</translation>
    </message>
    <message>
        <source>Cancelado</source>
        <translation>Cancelled</translation>
    </message>
    <message>
        <source>Não enviado: o paciente pediu para não receber</source>
        <translation>Not sent: the patient asked not to receive them</translation>
    </message>
</context>
<context>
    <name>RemindersPage</name>
    <message>
        <source>Lembretes</source>
        <translation>Reminders</translation>
    </message>
    <message>
        <source>Novo lembrete</source>
        <translation>New reminder</translation>
    </message>
    <message>
        <source>Cancelar lembrete</source>
        <translation>Cancel reminder</translation>
    </message>
    <message>
        <source>Abrir conversa</source>
        <translation>Open conversation</translation>
    </message>
    <message>
        <source>Carregar mais</source>
        <translation>Load more</translation>
    </message>
    <message>
        <source>Agendados</source>
        <translation>Scheduled</translation>
    </message>
    <message>
        <source>Enviados</source>
        <translation>Sent</translation>
    </message>
    <message>
        <source>Aguardando resposta</source>
        <translation>Waiting for an answer</translation>
    </message>
    <message>
        <source>Confirmaram</source>
        <translation>Confirmed</translation>
    </message>
    <message>
        <source>Pediram para remarcar</source>
        <translation>Asked to reschedule</translation>
    </message>
    <message>
        <source>Cancelados</source>
        <translation>Cancelled</translation>
    </message>
    <message>
        <source>Todos</source>
        <translation>All</translation>
    </message>
    <message>
        <source>Nenhum lembrete aqui.</source>
        <translation>No reminders here.</translation>
    </message>
    <message>
        <source>Lembrete cancelado.</source>
        <translation>Reminder cancelled.</translation>
    </message>
    <message>
        <source>Lembrete agendado.</source>
        <translation>Reminder scheduled.</translation>
    </message>
    <message>
        <source>%1 lembretes agendados.</source>
        <translation>%1 reminders scheduled.</translation>
    </message>
</context>
<context>
    <name>RepliesTab</name>
    <message>
        <source>Atalho</source>
        <translation>Shortcut</translation>
    </message>
    <message>
        <source>Texto</source>
        <translation>Text</translation>
    </message>
    <message>
        <source>Nova resposta</source>
        <translation>New reply</translation>
    </message>
    <message>
        <source>Editar</source>
        <translation>Edit</translation>
    </message>
    <message>
        <source>Excluir</source>
        <translation>Delete</translation>
    </message>
    <message>
        <source>Nenhuma resposta rápida ainda.</source>
        <translation>No quick replies yet.</translation>
    </message>
    <message>
        <source>Excluir resposta</source>
        <translation>Delete reply</translation>
    </message>
    <message>
        <source>Excluir a resposta /%1? Quem digitar /%1 não receberá mais este texto.</source>
        <translation>Delete the reply /%1? Typing /%1 will no longer bring this text.</translation>
    </message>
    <message>
        <source>Resposta /%1 excluída.</source>
        <translation>Reply /%1 deleted.</translation>
    </message>
</context>
<context>
    <name>ReplyDialog</name>
    <message>
        <source>Editar resposta</source>
        <translation>Edit reply</translation>
    </message>
    <message>
        <source>Nova resposta</source>
        <translation>New reply</translation>
    </message>
    <message>
        <source>por exemplo: endereco</source>
        <translation>for example: address</translation>
    </message>
    <message>
        <source>Atalho (digitado depois da /)</source>
        <translation>Shortcut (typed after /)</translation>
    </message>
    <message>
        <source>Texto</source>
        <translation>Text</translation>
    </message>
    <message>
        <source>Pode usar {nome}, {primeiro_nome}, {clinica}, {atendente} e {protocolo}: são trocados pelos dados do atendimento.</source>
        <translation>You can use {nome}, {primeiro_nome}, {clinica}, {atendente} and {protocolo}: they are replaced with the conversation&apos;s details.</translation>
    </message>
    <message>
        <source>Salvar</source>
        <translation>Save</translation>
    </message>
    <message>
        <source>Cancelar</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <source>Preencha o atalho e o texto.</source>
        <translation>Fill in the shortcut and the text.</translation>
    </message>
    <message>
        <source>Já existe uma resposta com este atalho.</source>
        <translation>A reply with this shortcut already exists.</translation>
    </message>
    <message>
        <source>O atalho pode ter só letras sem acento, números, - e _ (até 39).</source>
        <translation>The shortcut may only have unaccented letters, digits, - and _ (up to 39).</translation>
    </message>
    <message>
        <source>O texto é longo demais (até 4.000 caracteres).</source>
        <translation>The text is too long (up to 4,000 characters).</translation>
    </message>
</context>
<context>
    <name>SearchResults</name>
    <message>
        <source>Carregar mais</source>
        <translation>Load more</translation>
    </message>
    <message>
        <source>Buscando…</source>
        <translation>Searching…</translation>
    </message>
    <message>
        <source>Nada encontrado.</source>
        <translation>Nothing found.</translation>
    </message>
    <message>
        <source>Resultados: %1</source>
        <translation>Results: %1</translation>
    </message>
    <message>
        <source>Paciente sem nome</source>
        <translation>Unnamed patient</translation>
    </message>
    <message>
        <source>👤 %1</source>
        <translation>👤 %1</translation>
    </message>
    <message>
        <source>Atendimento #%1 · %2</source>
        <translation>Ticket #%1 · %2</translation>
    </message>
</context>
<context>
    <name>Send</name>
    <message>
        <source>Não enviada.</source>
        <translation>Not sent.</translation>
    </message>
    <message>
        <source>Envio incerto: confira no celular antes de reenviar.</source>
        <translation>Uncertain send: check on the phone before sending again.</translation>
    </message>
    <message>
        <source>Reenviar mensagem?</source>
        <translation>Send the message again?</translation>
    </message>
    <message>
        <source>Não sabemos se esta mensagem chegou ao paciente: a conexão caiu durante o envio. Ela pode já ter chegado. Confira no celular da clínica antes de reenviar, para o paciente não receber a mesma mensagem duas vezes.</source>
        <translation>We do not know whether this message reached the patient: the connection dropped while it was being sent. It may already have arrived. Check on the clinic&apos;s phone before sending it again, so the patient does not get the same message twice.</translation>
    </message>
    <message>
        <source>Reenviar mesmo assim</source>
        <translation>Send again anyway</translation>
    </message>
    <message>
        <source>Cancelar</source>
        <translation>Cancel</translation>
    </message>
</context>
<context>
    <name>SettingsForm</name>
    <message>
        <source>Usado em {clinica} nas mensagens</source>
        <translation>Used for {clinica} in messages</translation>
    </message>
    <message>
        <source>Em branco: nenhuma resposta automática fora do horário.</source>
        <translation>Empty: no automatic reply outside opening hours.</translation>
    </message>
    <message>
        <source> min</source>
        <translation> min</translation>
    </message>
    <message>
        <source>Em branco: a frase padrão do ClinicDesk</source>
        <translation>Empty: ClinicDesk&apos;s standard sentence</translation>
    </message>
    <message>
        <source>Nome da clínica</source>
        <translation>Clinic name</translation>
    </message>
    <message>
        <source>Horário de atendimento</source>
        <translation>Opening hours</translation>
    </message>
    <message>
        <source>Mensagem fora do horário</source>
        <translation>After-hours message</translation>
    </message>
    <message>
        <source>Reabrir a conversa se o paciente
escrever de novo em até</source>
        <translation>Reopen the conversation if the patient
writes again within</translation>
    </message>
    <message>
        <source>Primeira linha do menu</source>
        <translation>First line of the menu</translation>
    </message>
    <message>
        <source>Fuso horário</source>
        <translation>Time zone</translation>
    </message>
    <message>
        <source>Mensagens automáticas</source>
        <translation>Automatic messages</translation>
    </message>
    <message>
        <source>Pergunta no fim de um lembrete
que pede confirmação</source>
        <translation>Question at the end of a reminder
that asks for confirmation</translation>
    </message>
    <message>
        <source>Resposta a quem confirma (1)</source>
        <translation>Reply to a confirmation (1)</translation>
    </message>
    <message>
        <source>Resposta a quem pede para remarcar (2)</source>
        <translation>Reply to a reschedule request (2)</translation>
    </message>
    <message>
        <source>Resposta a SAIR</source>
        <translation>Reply to SAIR</translation>
    </message>
    <message>
        <source>Resposta a VOLTAR</source>
        <translation>Reply to VOLTAR</translation>
    </message>
    <message>
        <source>Salvar</source>
        <translation>Save</translation>
    </message>
    <message>
        <source>Nada foi alterado.</source>
        <translation>Nothing was changed.</translation>
    </message>
    <message>
        <source>Salvo. Vale para as próximas mensagens dos pacientes.</source>
        <translation>Saved. It applies to the next patient messages.</translation>
    </message>
</context>
<context>
    <name>SettingsPage</name>
    <message>
        <source>Configurações</source>
        <translation>Settings</translation>
    </message>
    <message>
        <source>Preferências pessoais</source>
        <translation>Personal preferences</translation>
    </message>
    <message>
        <source>Português (Brasil)</source>
        <translation>Portuguese (Brazil)</translation>
    </message>
    <message>
        <source>Inglês</source>
        <translation>English</translation>
    </message>
    <message>
        <source>Idioma</source>
        <translation>Language</translation>
    </message>
    <message>
        <source>O idioma muda na próxima vez que o ClinicDesk abrir.</source>
        <translation>The language changes the next time ClinicDesk opens.</translation>
    </message>
    <message>
        <source>Avisar novas mensagens</source>
        <translation>Notify me of new messages</translation>
    </message>
    <message>
        <source>Tocar som ao avisar</source>
        <translation>Play a sound with notifications</translation>
    </message>
    <message>
        <source>Regras da clínica neste computador</source>
        <translation>Clinic rules on this computer</translation>
    </message>
    <message>
        <source> min</source>
        <translation> min</translation>
    </message>
    <message>
        <source>Bloquear a tela após</source>
        <translation>Lock the screen after</translation>
    </message>
    <message>
        <source>Privacidade: avisos mostram só o nome, nunca o texto</source>
        <translation>Privacy: notifications show the name only, never the text</translation>
    </message>
</context>
<context>
    <name>StartConversationDialog</name>
    <message>
        <source>Sem fila</source>
        <translation>No queue</translation>
    </message>
    <message>
        <source>Nova conversa</source>
        <translation>New conversation</translation>
    </message>
    <message>
        <source>Opcional</source>
        <translation>Optional</translation>
    </message>
    <message>
        <source>Telefone do paciente</source>
        <translation>Patient&apos;s phone</translation>
    </message>
    <message>
        <source>Nome</source>
        <translation>Name</translation>
    </message>
    <message>
        <source>Enviar pelo número</source>
        <translation>Send from number</translation>
    </message>
    <message>
        <source>Fila</source>
        <translation>Queue</translation>
    </message>
    <message>
        <source>A conversa abre para você escrever a primeira mensagem.</source>
        <translation>The conversation opens for you to write the first message.</translation>
    </message>
    <message>
        <source>Iniciar conversa</source>
        <translation>Start conversation</translation>
    </message>
    <message>
        <source>Cancelar</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <source>Informe o telefone do paciente.</source>
        <translation>Enter the patient&apos;s phone number.</translation>
    </message>
    <message>
        <source>Nenhum número de WhatsApp disponível.</source>
        <translation>No WhatsApp number available.</translation>
    </message>
    <message>
        <source>Confira o número: inclua o DDD, por exemplo (11) 98765-4321.</source>
        <translation>Check the number: include the area code, for example (11) 98765-4321.</translation>
    </message>
    <message>
        <source>Este paciente já está em atendimento em outra fila.</source>
        <translation>This patient is already being attended in another queue.</translation>
    </message>
</context>
<context>
    <name>Status</name>
    <message>
        <source>Nenhum número de WhatsApp cadastrado</source>
        <translation>No WhatsApp number set up</translation>
    </message>
    <message>
        <source>%1 de 1 número conectado</source>
        <translation>%1 of 1 number connected</translation>
    </message>
    <message>
        <source>%1 de %2 números conectados</source>
        <translation>%1 of %2 numbers connected</translation>
    </message>
    <message>
        <source>● Conectado ao serviço ClinicDesk</source>
        <translation>● Connected to the ClinicDesk service</translation>
    </message>
    <message>
        <source>● Sessão encerrada: entre novamente</source>
        <translation>● Session ended: log in again</translation>
    </message>
    <message>
        <source>● Sem conexão com o serviço ClinicDesk. Tentando novamente…</source>
        <translation>● No connection to the ClinicDesk service. Trying again…</translation>
    </message>
</context>
<context>
    <name>TransferDialog</name>
    <message>
        <source>Transferir atendimento</source>
        <translation>Transfer ticket</translation>
    </message>
    <message>
        <source>(manter a fila)</source>
        <translation>(keep the queue)</translation>
    </message>
    <message>
        <source>(ninguém em especial)</source>
        <translation>(nobody in particular)</translation>
    </message>
    <message>
        <source>Fila</source>
        <translation>Queue</translation>
    </message>
    <message>
        <source>Pessoa</source>
        <translation>Person</translation>
    </message>
    <message>
        <source>Transferir</source>
        <translation>Transfer</translation>
    </message>
    <message>
        <source>Cancelar</source>
        <translation>Cancel</translation>
    </message>
</context>
</TS>
