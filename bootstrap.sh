#!/usr/bin/env bash
# Set up tacfleet on a fresh Debian 12+/Ubuntu 24.04+ machine and run one job:
#   bash bootstrap.sh demo   provision the built-in sandbox Windows host, check it, report
#   bash bootstrap.sh test   lint and run the whole test suite (unit + sandbox integration)
# Installs what it needs itself: Debian packages (python3-venv, wine, MIT Kerberos) and .venv; the
# sandbox host's bare image (Windows CPython and wheels from PyPI) is built on first use and cached.
set -euo pipefail
cd "$(dirname "$0")"
job="${1:-}"
case "$job" in demo|test) ;; *) echo "usage: bash bootstrap.sh demo|test" >&2; exit 2 ;; esac

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
missing=""
command -v wine >/dev/null 2>&1 || missing="$missing wine wine64"  # the sandbox Windows host
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$missing python3-venv python3-pip"
# Kerberos (issue 12): the sandbox's realm runs MIT's KDC; tacfleet[kerberos] (gssapi, krb5,
# pykerberos) has no Linux wheels on PyPI and builds against libkrb5-dev with gcc.
[ -x /usr/sbin/krb5kdc ] && [ -x /usr/sbin/kadmin.local ] \
    || missing="$missing krb5-kdc krb5-admin-server"
command -v kinit >/dev/null 2>&1 || missing="$missing krb5-user"
command -v krb5-config >/dev/null 2>&1 || missing="$missing libkrb5-dev"
command -v gcc >/dev/null 2>&1 || missing="$missing gcc"
python3 -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(
    os.path.join(sysconfig.get_paths()["include"], "Python.h")))' || missing="$missing python3-dev"
command -v faketime >/dev/null 2>&1 || missing="$missing faketime"  # a skewed client clock
command -v ip >/dev/null 2>&1 || missing="$missing iproute2"  # an offline sandbox host's netns
if [ "$job" = test ]; then  # issue 35's output tests: a terminal of 80 columns, the HTML's shots
    command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
    command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
fi
if [ -n "$missing" ]; then
    echo "bootstrap: installing Debian packages:$missing"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
# The sandbox's German host (`invoke sandbox.up --locale de_DE`, used by the test suite) needs
# the de_DE.UTF-8 locale: Wine's programs and the stand-ins speak the Unix locale.
for loc in de_DE; do
    if ! locale -a 2>/dev/null | grep -qix "$loc.utf-\?8"; then
        if ! command -v localedef >/dev/null 2>&1 || [ ! -e "/usr/share/i18n/locales/$loc" ]; then
            echo "bootstrap: installing Debian package: locales"
            $sudo apt-get update -qq
            $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq locales >/dev/null
        fi
        echo "bootstrap: generating the $loc.UTF-8 locale"
        $sudo localedef -i "$loc" -f UTF-8 "$loc.UTF-8"
    fi
done
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "bootstrap: tacfleet needs Python 3.11 or newer (found $(python3 --version))" >&2; exit 2; }

if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev,sandbox,kerberos,credssp,ansible]'
export PATH="$PWD/.venv/bin:$PATH"

case "$job" in
    demo) exec invoke demo ;;
    test) exec invoke test ;;
esac
