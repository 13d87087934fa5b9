# tests/gpg.sh - sourced after tests/lib.sh by the tests that need GnuPG:
# private homes made here, gpg without prompts, and every home's agent
# stopped in the EXIT trap.
#   gpg_homes NAME...   makes $T/NAME (mode 700) for each, remembered
#   g HOME ARGS...      gpg --homedir HOME in batch mode, empty passphrase
#   gpg_key NAME        a key "NAME <NAME@example.com>" in $T/NAME
#   gpg_fpr NAME        its fingerprint
GPG_HOMES=
gpg_stop_agents() {
	for _h in $GPG_HOMES; do
		[ -d "$_h" ] && gpgconf --homedir "$_h" --kill all 2>/dev/null
	done
	cleanup
}
trap gpg_stop_agents EXIT

gpg_homes() {
	for _n in "$@"; do
		mkdir -m 700 "$T/$_n" && GPG_HOMES="$GPG_HOMES $T/$_n"
	done
}
g() {
	_gh=$1
	shift
	gpg --homedir "$_gh" --batch --quiet --pinentry-mode loopback --passphrase '' "$@"
}
gpg_key() {
	g "$T/$1" --quick-gen-key "$1 <$1@example.com>" default default never >"$T/gen.log" 2>&1 ||
		{ cat "$T/gen.log" >&2; return 1; }
}
gpg_fpr() {
	gpg --homedir "$T/$1" --with-colons --list-keys "$1@example.com" | awk -F: '/^fpr/ { print $10; exit }'
}

# Keys with a passphrase (tests/integration/18-pgp-crypt.sh):
#   gpg_key_pass NAME PASS [HOME]  a key "NAME <NAME@example.com>" protected
#                                  by PASS, in $T/HOME (default $T/NAME)
#   gpg_fpr_in HOME NAME           fingerprint of NAME's key in $T/HOME
#   gpg_enc_keyid HOME NAME        key id of that key's encryption subkey
#   gpg_forget HOME                stop $T/HOME's agent: what it cached
#                                  (the passphrase given at --quick-gen-key) is gone
gpg_key_pass() {
	gpg --homedir "$T/${3:-$1}" --batch --quiet --pinentry-mode loopback --passphrase "$2" \
		--quick-gen-key "$1 <$1@example.com>" default default never >"$T/gen.log" 2>&1 ||
		{ cat "$T/gen.log" >&2; return 1; }
}
gpg_fpr_in() {
	gpg --homedir "$T/$1" --with-colons --list-keys "$2@example.com" | awk -F: '/^fpr/ { print $10; exit }'
}
gpg_enc_keyid() {
	gpg --homedir "$T/$1" --with-colons --list-keys "$2@example.com" |
		awk -F: '/^sub/ && $12 ~ /e/ { print $5; exit }'
}
gpg_forget() {
	gpgconf --homedir "$T/$1" --kill gpg-agent 2>/dev/null
}
