# Sourced by benches/compare.sh and benches/search_bench.sh: writes the configuration of a
# private Dovecot instance (never the system one) that serves one passwd-file user's Maildir
# over TLS on 127.0.0.1, with the benchmark's own certificate.
#
#   write_dovecot_conf DIR IMAPS_PORT IMAP_PORT WRITER EXTRA
#
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
