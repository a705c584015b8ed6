<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en_US">
<context>
    <name>ChannelCard</name>
    <message>
        <source>Conectar celular</source>
        <translation>Link phone</translation>
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
        <source>Anexo</source>
        <translation>Attachment</translation>
    </message>
    <message>
        <source>(mensagem sem texto)</source>
        <translation>(message without text)</translation>
    </message>
    <message>
        <source>Tentar de novo</source>
        <translation>Try again</translation>
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
        <source>Enviar</source>
        <translation>Send</translation>
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
    <name>Placeholder</name>
    <message>
        <source>Em breve.</source>
        <translation>Coming soon.</translation>
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
</TS>
