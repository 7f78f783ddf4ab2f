# Shell functions the benchmark scripts share (compare.sh, search_bench.sh, idle_push.sh,
# import_rate.sh, sort_thread.sh); sourced, not run. wait_port and end_run need the caller's
# `die MESSAGE`, `log MESSAGE` and `RUN_DIR`.

# make_certs DIR KEY-OPTIONS...: a throw-away CA and a leaf for localhost / 127.0.0.1 signed by
# it, in DIR: cert.pem (leaf then CA, what the servers serve), key.pem, ca.pem (what clients
# trust). KEY-OPTIONS are openssl's `-newkey` arguments, e.g. `rsa:2048`, or `ec -pkeyopt
# ec_paramgen_curve:prime256v1` for cheap handshakes.
make_certs() {
    local dir=$1
    shift
    mkdir -p "$dir"
    (
        cd "$dir"
        openssl req -x509 -newkey "$@" -nodes -subj /CN=bench-ca -days 30 \
            -keyout ca.key -out ca.pem 2>/dev/null
        openssl req -newkey "$@" -nodes -subj /CN=localhost -keyout key.pem -out leaf.csr 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >leaf.ext
        openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
            -extfile leaf.ext -out leaf.pem 2>/dev/null
        cat leaf.pem ca.pem >cert.pem
        chmod 644 ./*.pem
    )
}

# wait_port PORT PID NAME: returns once something listens on 127.0.0.1:PORT (30 s at most);
# dies if process PID (NAME) exits first.
wait_port() {
    for _ in $(seq 1 300); do
        if ss -ltn "sport = :$1" | grep -q LISTEN; then return 0; fi
        kill -0 "$2" 2>/dev/null || die "$3 exited during start-up (see $RUN_DIR)"
        sleep 0.1
    done
    die "$3 did not listen on $1 within 30 s"
}

# write_dovecot_conf DIR IMAPS_PORT IMAP_PORT WRITER EXTRA: the configuration of a private
# Dovecot instance (never the system one) that serves one passwd-file user's Maildir over TLS
# on 127.0.0.1, with the benchmark's own certificate.
# DIR holds passwd, home/USER/Maildir, and the instance's run, state and log; EXTRA (settings
# lines) goes before the listeners. Needs CERTS, MAIL_UID and MAIL_GID set by the caller.
write_dovecot_conf() {
    local d=$1 imaps=$2 imap=$3 writer=$4 extra=$5
    cat >"$d/dovecot.conf" <<CONF
# Written by $writer: a private instance, not the system one.
protocols = imap
listen = 127.0.0.1
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
info_log_path = $d/dovecot.log
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
ssl = required
ssl_cert = <$CERTS/cert.pem
ssl_key = <$CERTS/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = $d/passwd
}
userdb {
  driver = static
  args = uid=$MAIL_UID gid=$MAIL_GID home=$d/home/%u
}
mail_location = maildir:~/Maildir
first_valid_uid = 100
$extra
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps
    ssl = yes
  }
}
CONF
}

# write_imapvault_conf FILE DATA_DIR CERT_DIR TLS_PORT [SERVER_LINES [ARCHIVE_LINES [MORE]]]:
# an imapvault configuration at FILE serving the archive DATA_DIR over implicit TLS on
# 127.0.0.1:TLS_PORT with CERT_DIR's cert.pem and key.pem (make_certs), logging warnings only.
# SERVER_LINES go into [server] (default: no STARTTLS listener), ARCHIVE_LINES into
# [archive], MORE (whole sections, e.g. [limits]) at the end.
write_imapvault_conf() {
    local file=$1 data=$2 certs=$3 port=$4
    local server=${5:-'listen_starttls = []'} archive=${6:-} more=${7:-}
    cat >"$file" <<CONF
[server]
listen_tls = ["127.0.0.1:$port"]
$server
[tls]
cert = "$certs/cert.pem"
key = "$certs/key.pem"
[archive]
dir = "$data"
$archive
[log]
level = "warn"
$more
CONF
}

# end_run RC: the last step of an EXIT trap: keeps RUN_DIR when KEEP=1 or the run failed (RC
# not 0), else removes it; exits with RC.
end_run() {
    if [ "${KEEP:-0}" = 1 ] || [ "$1" -ne 0 ]; then
        log "run directory kept: $RUN_DIR"
    else
        rm -rf "$RUN_DIR"
    fi
    exit "$1"
}
