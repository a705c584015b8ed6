; Inno Setup 6 script for ClinicDesk on Windows (x64).
;
; WRITTEN BUT UNTESTED HERE: there is no Windows machine in this project's CI. See
; installer/README.md for how to build it and what to check on a first real install.
;
; Build (on Windows, from the repository root, after the PyInstaller build on Windows):
;   iscc /DAppVersion=0.1.0 /DWinSWExe=C:\path\to\WinSW-x64.exe installer\windows\clinicdesk.iss
;
; Installs the one-folder bundle into {autopf}\ClinicDesk, a Start-menu shortcut for the desk,
; and the engine as a Windows service through WinSW (see clinicdesk-engine.xml). Like the Linux
; package it does not initialise anything or start the engine: IT runs `clinicdesk init` (which
; prints the recovery key) and then starts the service.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef DistDir
  #define DistDir "..\..\dist\clinicdesk"
#endif
#ifndef WinSWExe
  #define WinSWExe "WinSW-x64.exe"
#endif
#define ServiceExe "clinicdesk-engine.exe"
#define DataDir "{commonappdata}\ClinicDesk"

[Setup]
AppId={{7B0E2B6C-3F1A-4C8E-9D2B-1C5A6E4F8A21}
AppName=ClinicDesk
AppVersion={#AppVersion}
AppPublisher=ClinicDesk
DefaultDirName={autopf}\ClinicDesk
DefaultGroupName=ClinicDesk
DisableProgramGroupPage=yes
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=ClinicDesk-{#AppVersion}-setup
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
UninstallDisplayIcon={app}\clinicdesk.exe
CloseApplications=yes

[Languages]
Name: "ptbr"; MessagesFile: "compiler:Languages\BrazilianPortuguese.isl"
Name: "en"; MessagesFile: "compiler:Default.isl"

[Dirs]
; The data directory outlives uninstall (patients' conversations, keys, backups).
Name: "{#DataDir}"; Flags: uninsneveruninstall
Name: "{#DataDir}\logs"; Flags: uninsneveruninstall

[Files]
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "{#WinSWExe}"; DestDir: "{app}"; DestName: "{#ServiceExe}"; Flags: ignoreversion
Source: "clinicdesk-engine.xml"; DestDir: "{app}"; Flags: ignoreversion

[Icons]
; The bundle is built with console=True (the CLI needs it), so the desk opens with a console
; window behind it; a windowed desk executable is a planned follow-up.
Name: "{autoprograms}\ClinicDesk"; Filename: "{app}\clinicdesk.exe"; WorkingDir: "{app}"

[Run]
; Only SYSTEM and Administrators may read the data directory: ProgramData otherwise lets every
; local user read files created there. /inheritance:r drops the inherited Users entries.
Filename: "{sys}\icacls.exe"; Parameters: """{#DataDir}"" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F"; Flags: runhidden waituntilterminated; StatusMsg: "Protecting the data folder..."

[UninstallRun]
Filename: "{app}\{#ServiceExe}"; Parameters: "stop"; Flags: runhidden waituntilterminated; RunOnceId: "StopEngine"
Filename: "{app}\{#ServiceExe}"; Parameters: "uninstall"; Flags: runhidden waituntilterminated; RunOnceId: "RemoveEngine"

[Code]
function ServiceExeRun(const Args: String): Integer;
var
  Code: Integer;
begin
  if not Exec(ExpandConstant('{app}\{#ServiceExe}'), Args, '', SW_HIDE, ewWaitUntilTerminated, Code) then
    Code := -1;
  Result := Code;
end;

function EngineInstalled: Boolean;
var
  Code: Integer;
begin
  { sc query exits 0 when the service exists }
  Result := Exec(ExpandConstant('{sys}\sc.exe'), 'query ClinicDeskEngine', '', SW_HIDE, ewWaitUntilTerminated, Code) and (Code = 0);
end;

function PrepareToInstall(var NeedsRestart: Boolean): String;
begin
  { Upgrade: stop the engine so its files can be replaced. }
  if EngineInstalled and FileExists(ExpandConstant('{app}\{#ServiceExe}')) then
    ServiceExeRun('stop');
  Result := '';
end;

procedure CurStepChanged(CurStep: TSetupStep);
begin
  if CurStep = ssPostInstall then
  begin
    { WinSW 2.x reads clinicdesk-engine.xml at every service start, so an upgrade only needs
      to register the service when it is not there yet. }
    if (not EngineInstalled) and (ServiceExeRun('install') <> 0) then
      MsgBox('Could not register the ClinicDesk Engine service. Run "' + ExpandConstant('{app}\{#ServiceExe}') + ' install" as administrator.', mbError, MB_OK);
    { Not started here: run `clinicdesk init` first (installer/README.md). On upgrade, start it
      again only if the data directory has been initialised. }
    if FileExists(ExpandConstant('{#DataDir}\clinicdesk.db')) then
      ServiceExeRun('start');
  end;
end;
