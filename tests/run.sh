#!/usr/bin/env bash
# The test command of imapvault (README, and what .ci/run executes).
#
# Runs from a fresh Debian 12 machine: installs the tools the tests use if they are missing
# (Dovecot as the MIME oracle and benchmark reference, mbsync, curl, python3, openssl, and
# man-db, groff and systemd for the man page and init tests), makes
# sure no system Dovecot keeps ports 143/993 (tests start their own instances), then checks
# the demo mail, formatting, lints, and runs every test target.
#
# Usage: bash tests/run.sh        (as root, or as a user with sudo)
set -euo pipefail

cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    SUDO=()
fi

# ---------------------------------------------------------------- system packages
# Each entry: Debian package and a command it provides (or "-" to go by dpkg only).
PACKAGES=(
    "dovecot-imapd:/usr/lib/dovecot/imap"
    "isync:mbsync"
    "curl:curl"
    "python3:python3"
    "ca-certificates:-"
    "openssl:openssl"
    # tests/man_pages.rs renders the man pages; tests/packaging.rs checks the systemd unit.
    "man-db:man"
    "groff-base:groff"
    "systemd:systemd-analyze"
)

is_installed() {
    local pkg=$1 cmd=$2
    if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ]; then
        return 0
    fi
    # A tool installed another way (say python3 from pyenv) is good enough, except Dovecot,
    # whose imap binary the tests run by path.
    [ "$cmd" != "-" ] && [ "$pkg" != "dovecot-imapd" ] && command -v "$cmd" >/dev/null 2>&1
}

missing=()
for entry in "${PACKAGES[@]}"; do
    pkg=${entry%%:*}
    cmd=${entry#*:}
    if is_installed "$pkg" "$cmd"; then
        echo "have $pkg"
    else
        missing+=("$pkg")
    fi
done

dovecot_installed_now=no
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] && [ ${#SUDO[@]} -eq 0 ]; then
        echo "error: need to install ${missing[*]}, but not root and no sudo" >&2
        exit 1
    fi
    step "installing ${missing[*]}"
    # Keep the package's own service from starting during the install where we can: the usual
    # policy-rc.d answer 101 ("action forbidden"), only if the machine has none of its own.
    policy_added=no
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
        policy_added=yes
    fi
    apt_status=0
    {
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get -o DPkg::Lock::Timeout=300 update &&
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}"
    } || apt_status=$?
    if [ "$policy_added" = yes ]; then
        "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d
    fi
    if [ "$apt_status" -ne 0 ]; then
        echo "error: apt-get failed ($apt_status)" >&2
        exit "$apt_status"
    fi
    case " ${missing[*]} " in *" dovecot-imapd "*) dovecot_installed_now=yes ;; esac
fi

# ---------------------------------------------------------------- no system Dovecot
# The tests run Dovecot themselves (own config, own ports or stdin); a system instance would
# hold 143/993 and confuse the end-to-end tests. Stop it and keep it from starting at boot.
stop_system_dovecot() {
    local pidfile=/run/dovecot/master.pid pid
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        "${SUDO[@]}" systemctl stop dovecot.service dovecot.socket >/dev/null 2>&1 || true
        "${SUDO[@]}" systemctl disable dovecot.service dovecot.socket >/dev/null 2>&1 || true
    fi
    if command -v service >/dev/null 2>&1; then
        "${SUDO[@]}" service dovecot stop >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null 2>&1; then
        "${SUDO[@]}" update-rc.d dovecot disable >/dev/null 2>&1 || true
    fi
    # Whatever is left of the system instance: its master, by the pid file of the default
    # base_dir only, so Dovecot instances of running tests are not touched.
    if [ -r "$pidfile" ]; then
        pid=$(cat "$pidfile")
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            echo "stopping system dovecot (pid $pid)"
            "${SUDO[@]}" kill "$pid" || true
            for _ in 1 2 3 4 5 6 7 8 9 10; do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.5
            done
            kill -0 "$pid" 2>/dev/null && "${SUDO[@]}" kill -9 "$pid" || true
        fi
    fi
}
if [ "$dovecot_installed_now" = yes ] || [ -r /run/dovecot/master.pid ]; then
    step "making sure no system dovecot holds ports 143/993"
    stop_system_dovecot
fi

# ---------------------------------------------------------------- Rust toolchain
if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install a Rust toolchain (rustc >= 1.85) with rustfmt and clippy" >&2
    exit 1
fi
step "toolchain"
cargo --version
rustc --version
cargo fmt --version
cargo clippy --version

# ---------------------------------------------------------------- the checks
step "demo mail: python3 tests/demo_mail_check.py"
python3 tests/demo_mail_check.py

step "format: cargo fmt --all -- --check"
cargo fmt --all -- --check

step "lint: cargo clippy --all-targets --locked -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

step "tests: cargo test --locked --all-targets"
# The output is kept so that the run ends with one line totalling every test binary's results
# (the last binaries cargo runs are the benchmarks' smoke runs, which print no summary).
test_log=$(mktemp)
set +e
cargo test --locked --all-targets 2>&1 | tee "$test_log"
status=${PIPESTATUS[0]}
set -e
passed=$(awk '/^test result:/ { s += $4 } END { print s + 0 }' "$test_log")
failed=$(awk '/^test result:/ { s += $6 } END { print s + 0 }' "$test_log")
rm -f "$test_log"
echo
echo "tests: $passed passed, $failed failed"
exit "$status"
