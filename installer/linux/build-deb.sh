#!/usr/bin/env bash
# Build clinicdesk_<version>_<arch>.deb from the PyInstaller one-folder bundle.
#
#   installer/linux/build-deb.sh [DIST_DIR] [OUT_DIR]
#     DIST_DIR  the bundle folder (default: dist/clinicdesk, from `pyinstaller build.spec`)
#     OUT_DIR   where the .deb goes (default: dist)
#
# The package installs the bundle to /opt/clinicdesk, the systemd unit, and a postinst that
# creates the clinicdesk user and the private directories. It does NOT run `clinicdesk init` or
# start the service: IT does both (installer/README.md), because init prints the recovery key.
set -euo pipefail
cd "$(dirname "$0")/../.."

DIST_DIR=${1:-dist/clinicdesk}
OUT_DIR=${2:-dist}
[ -x "$DIST_DIR/clinicdesk" ] || { echo "build-deb: no bundle at $DIST_DIR (run PyInstaller first)" >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "build-deb: dpkg-deb not found" >&2; exit 1; }

VERSION=$("$DIST_DIR/clinicdesk" --version | awk '{print $NF}')
ARCH=$(dpkg --print-architecture)
PKG="clinicdesk_${VERSION}_${ARCH}"
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
ROOT="$STAGE/$PKG"

echo "build-deb: staging $PKG"
install -d -m 0755 "$ROOT/opt" "$ROOT/lib/systemd/system" "$ROOT/usr/bin" "$ROOT/DEBIAN"
cp -a "$DIST_DIR" "$ROOT/opt/clinicdesk"
[ -f README.md ] && install -m 0644 README.md "$ROOT/opt/clinicdesk/README.md"
chmod -R u=rwX,go=rX "$ROOT/opt/clinicdesk"
install -m 0644 installer/linux/clinicdesk-engine.service "$ROOT/lib/systemd/system/"
ln -s /opt/clinicdesk/clinicdesk "$ROOT/usr/bin/clinicdesk"

INSTALLED_KB=$(du -sk "$ROOT" | cut -f1)
cat >"$ROOT/DEBIAN/control" <<CONTROL
Package: clinicdesk
Version: $VERSION
Architecture: $ARCH
Maintainer: ClinicDesk <suporte@clinicdesk.invalid>
Section: net
Priority: optional
Installed-Size: $INSTALLED_KB
Depends: adduser, libgl1, libegl1, fonts-dejavu-core, fontconfig-config
Recommends: libmagic1
Description: On-premise WhatsApp service desk for clinics
 ClinicDesk keeps a clinic's WhatsApp conversations in an encrypted store and
 serves the receptionists' desk app. This package holds the engine service,
 the desk and the command line (PyInstaller bundle in /opt/clinicdesk).
CONTROL

cat >"$ROOT/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
# Create the service account and its private directories. Nothing is initialised or started:
# IT runs `clinicdesk init` (it prints the recovery key) and then enables the service.
set -e
if [ "$1" = "configure" ]; then
    if ! getent passwd clinicdesk >/dev/null; then
        adduser --system --group --home /var/lib/clinicdesk --no-create-home \
            --shell /usr/sbin/nologin clinicdesk
    fi
    install -d -o clinicdesk -g clinicdesk -m 0700 /var/lib/clinicdesk
    install -d -o root -g root -m 0755 /etc/clinicdesk
    install -d -o clinicdesk -g clinicdesk -m 0700 /etc/clinicdesk/keys
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload >/dev/null 2>&1 || true
        # Upgrade ($2 = old version): prerm stopped the engine; bring it back if IT enabled it.
        if [ -n "$2" ] && systemctl is-enabled --quiet clinicdesk-engine 2>/dev/null; then
            systemctl start clinicdesk-engine || true
        fi
    fi
    if [ ! -e /var/lib/clinicdesk/clinicdesk.db ]; then
        echo "clinicdesk: not initialised yet. As root:"
        echo "  sudo -u clinicdesk CLINICDESK_KEY_DIR=/etc/clinicdesk/keys clinicdesk init --data-dir /var/lib/clinicdesk ..."
        echo "  systemctl enable --now clinicdesk-engine"
    fi
fi
exit 0
POSTINST

cat >"$ROOT/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
# Stop the engine before its files are replaced or removed (a running one-folder bundle loads
# modules lazily from /opt/clinicdesk). Data and keys are kept; remove them by hand.
set -e
if [ -d /run/systemd/system ]; then
    case "$1" in
        remove) systemctl disable --now clinicdesk-engine >/dev/null 2>&1 || true ;;
        upgrade) systemctl stop clinicdesk-engine >/dev/null 2>&1 || true ;;
    esac
fi
exit 0
PRERM

cat >"$ROOT/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
POSTRM
chmod 0755 "$ROOT/DEBIAN/postinst" "$ROOT/DEBIAN/prerm" "$ROOT/DEBIAN/postrm"

mkdir -p "$OUT_DIR"
dpkg-deb --root-owner-group --build "$ROOT" "$OUT_DIR/$PKG.deb" >/dev/null
echo "build-deb: wrote $OUT_DIR/$PKG.deb ($(du -h "$OUT_DIR/$PKG.deb" | cut -f1))"
