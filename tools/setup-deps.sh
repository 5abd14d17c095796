#!/usr/bin/env bash
# setup-deps.sh [run|test]: installs the Debian packages cetreg needs, as root.
#   run   building cetd/cetctl/cetbench and running them behind h2o (cairo,
#         pango, libqrencode and the CJK font draw the PDF admission tickets;
#         cairo, libpng and the DejaVu fonts draw the captcha; libzip + expat
#         read school .xlsx files, libxlsxwriter writes them;
#         libcurl sends the outbox's mail over SMTP; python3-aiosmtpd is the
#         local mail sink of tools/run.sh and of the integration tests)
#   test  everything for the whole test suite (adds clang for libFuzzer,
#         Chromium for the browser tests, Node.js/npm for them and the
#         OpenAPI linter, Redis/PostgreSQL are NOT needed: bench/compare
#         installs those itself)
# Packages already present are not touched; apt-get update runs only when
# something is missing.
set -euo pipefail
what="${1:-run}"
pkgs=(build-essential cmake pkg-config libevent-dev liblmdb-dev lmdb-utils libxxhash-dev
      libjemalloc-dev libsodium-dev libjansson-dev libssl-dev libnghttp2-dev python3 curl
      openssl h2o nghttp2-client libinih-dev libsystemd-dev
      libcairo2-dev libpng-dev libpango1.0-dev libqrencode-dev fonts-wqy-microhei fonts-dejavu-core
      libzip-dev libexpat1-dev libxlsxwriter-dev
      libcurl4-openssl-dev python3-aiosmtpd)
if [ "$what" = test ]; then
    pkgs+=(clang libclang-rt-14-dev chromium fonts-wqy-microhei)
    # admission-ticket tests read PDFs back (pdftotext, pdfinfo, pdftoppm) and decode the QR
    pkgs+=(poppler-utils zbar-tools)
    # school-file tests open cetctl's .xlsx with an independent reader and write one with it
    pkgs+=(python3-openpyxl)
    # prometheus: promtool checks /metrics; python3-h2: the rapid-reset flooder;
    # systemd: systemd-analyze verifies the units; dpkg-dev: the .deb checks;
    # nginx: the TCP edge test (run with its own config and ports, never as a service)
    pkgs+=(prometheus python3-h2 systemd dpkg-dev nginx groff-base)
    # ss (the listeners' backlog in t64)
    pkgs+=(iproute2)
    command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
    command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup-deps: need root to install: ${missing[*]}" >&2
        exit 1
    fi
    echo "setup-deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's h2o (and prometheus) packages may run a system service: cetreg
# runs its own h2o with its own config and ports (tools/edge), so a system one
# is left alone; this script never stops a service it did not start.
