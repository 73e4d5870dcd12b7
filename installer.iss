; Stockbridge for Windows: Inno Setup 6 script.
;
; Build the app first, then compile this script from the checkout's top folder:
;
;   py packaging\build.py
;   iscc /DAppVersion=0.1.0 installer.iss
;
; The installer lands in dist\installer\. Without /DAppVersion the version is read from
; the built Stockbridge.exe, whose version resource PyInstaller wrote from app.__version__.
; Code signing is optional (/DSignToolName=..., below); see packaging\README-packaging.md.

#define AppName "Stockbridge"
#define AppExeName "Stockbridge.exe"
#define BundleDir "dist\Stockbridge"
; Must equal app.platform_integration.MUTEX_NAME: the app holds this mutex while it runs.
#define AppMutexName "StockbridgeAppMutex"
; Must equal app.platform_integration.RUN_VALUE: the app's "start at log-in" setting and
; the installer's task are the same Run value.
#define RunValueName "Stockbridge"
#define RunKey "Software\Microsoft\Windows\CurrentVersion\Run"

#ifndef AppVersion
  #if FileExists(AddBackslash(SourcePath) + BundleDir + "\" + AppExeName)
    #define AppVersion GetStringFileInfo(AddBackslash(SourcePath) + BundleDir + "\" + AppExeName, "ProductVersion")
  #endif
#endif
#ifndef AppVersion
  #define AppVersion "0.0.0-dev"
#endif
#if AppVersion == ""
  #undef AppVersion
  #define AppVersion "0.0.0-dev"
#endif

[Setup]
; Never change the AppId: it is how Windows and later installers recognise Stockbridge.
AppId={{794096D7-407B-4707-8124-906AEA3D93C9}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppName}
AppCopyright=Copyright (C) {#AppName}
; Per-user by default (no administrator needed, installs to
; %LOCALAPPDATA%\Programs\Stockbridge); the dialog lets an administrator install for
; all users into Program Files instead.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; The Run value and the data folder are per user on purpose, even in all-users mode.
UsedUserAreasWarning=no
; Refuse to replace files under a running Stockbridge; ask the merchant to quit it.
AppMutex={#AppMutexName}
CloseApplications=yes
RestartApplications=no
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=dist\installer
OutputBaseFilename={#AppName}-{#AppVersion}-setup
SetupIconFile=resources\icons\stockbridge.ico
UninstallDisplayIcon={app}\{#AppExeName}
UninstallDisplayName={#AppName}
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
#ifdef SignToolName
; Signing: iscc "/Sstockbridgesign=signtool sign /fd sha256 /tr <timestamp URL> /td sha256 /a $f"
;              /DSignToolName=stockbridgesign /DAppVersion=X installer.iss
SignTool={#SignToolName}
SignedUninstaller=yes
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[CustomMessages]
english:StartupGroup=Start-up:
english:AutostartTask=Start {#AppName} in the tray when I sign in to Windows (keeps orders and stock in sync)
english:RemoveDataQuestion=Also delete your {#AppName} data?%n%nThis is your order history, stock ledger, settings and logs in:%n%1%n%nChoose No to keep it; reinstalling {#AppName} picks it up again.
english:RemoveDataFailed=Some of your {#AppName} data could not be deleted. You can remove the folder yourself:%n%1

[Tasks]
Name: "autostart"; Description: "{cm:AutostartTask}"; GroupDescription: "{cm:StartupGroup}"
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An update must not leave the previous version's libraries beside the new ones:
; PyInstaller's _internal folder is replaced whole. The merchant's data is elsewhere.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExeName}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Tasks: desktopicon

[Registry]
Root: HKCU; Subkey: "{#RunKey}"; ValueType: string; ValueName: "{#RunValueName}"; ValueData: """{app}\{#AppExeName}"" --minimised"; Flags: uninsdeletevalue; Tasks: autostart

[Run]
Filename: "{app}\{#AppExeName}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Code]
// The data folder is platformdirs.user_data_dir("Stockbridge", appauthor=False), which
// on Windows is %LOCALAPPDATA%\Stockbridge (logs live in its Logs subfolder).
function DataDir(): String;
begin
  Result := ExpandConstant('{localappdata}\{#AppName}');
end;

// Remove a Run value the app itself wrote (its "start at log-in" setting), but only when
// it points into this installation: another copy of Stockbridge may own it.
procedure RemoveOwnAutostart();
var
  Command: String;
begin
  if RegQueryStringValue(HKCU, '{#RunKey}', '{#RunValueName}', Command) then
    if Pos(Lowercase(ExpandConstant('{app}')), Lowercase(Command)) > 0 then
      RegDeleteValue(HKCU, '{#RunKey}', '{#RunValueName}');
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usUninstall then
    RemoveOwnAutostart();
  // The merchant's data stays unless they say otherwise. A silent uninstall (used by
  // updates and IT tools) never deletes it. "No" is the default button.
  if (CurUninstallStep = usPostUninstall) and DirExists(DataDir()) and not UninstallSilent() then
  begin
    if MsgBox(FmtMessage(CustomMessage('RemoveDataQuestion'), [DataDir()]),
              mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES then
    begin
      if not DelTree(DataDir(), True, True, True) then
        MsgBox(FmtMessage(CustomMessage('RemoveDataFailed'), [DataDir()]), mbError, MB_OK);
    end;
  end;
end;
