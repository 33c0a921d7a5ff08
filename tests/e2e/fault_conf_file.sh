#!/usr/bin/env bash
# The configuration file of a running imqd that cannot be read. (a) Replaced
# by a FIFO nobody writes to, then by a link to /dev/kmsg: `imqctl reload`
# and SIGHUP are refused at once ("not a regular file"), the running
# configuration stays, imq0 stays up and imqctl keeps being answered; the
# real file back, a reload works. Before: the reload's open() waited for a
# writer inside the event loop, every device stopped and imqctl got no
# answer. (b) imqd out of descriptors: the reload says "Too many open
# files", not that the configuration is not valid.
. "$(dirname "$0")/lib.sh"
e2e_init fault_conf_file

ns_new g GW
start_imqd 0
CONF=$T_TMP/imqd.conf
cp "$CONF" "$T_TMP/imqd.conf.good" || fail "cannot copy $CONF"

# answers WHAT: imqctl show answers and lists imq0 up.
answers() {
	local out
	if out=$(timeout 20 "$IMQCTL" -s "$IMQD_SOCK" show 2>&1); then
		if grep -Eq '^imq0 +up\b' <<<"$out"; then
			pass_msg "$1: imqctl show answered, imq0 up"
		else
			mismatch "$1: imqctl show does not list imq0 up: $out"
		fi
	else
		mismatch "$1: imqctl show failed: $out"
	fi
}

# reload_refused WHAT: imqctl reload exits 1 naming the file and why.
reload_refused() {
	local rc t0 t1
	t0=$(now)
	timeout 20 "$IMQCTL" -s "$IMQD_SOCK" reload >"$T_TMP/reload.out" 2>"$T_TMP/reload.err"
	rc=$?
	t1=$(now)
	log "$1: imqctl reload took $(calc %.3f "$t1 - $t0") s"
	assert_eq "$1: imqctl reload exit status" 1 "$rc"
	if grep -qxF "$CONF: not a regular file" "$T_TMP/reload.err"; then
		pass_msg "$1: imqctl reload says '$CONF: not a regular file'"
	else
		mismatch "$1: imqctl reload's errors lack '$CONF: not a regular file': $(cat "$T_TMP/reload.err")"
	fi
}

rm -f "$CONF"
mkfifo -m 600 "$CONF" || fail "mkfifo $CONF failed"
reload_refused "FIFO"
answers "after imqctl reload of a FIFO"
kill -HUP "$IMQD_PID"
sleep 0.5
answers "after SIGHUP with a FIFO"
assert_eq "log lines 'not a regular file' (imqctl reload, SIGHUP)" 2 \
	"$(grep -c "$CONF: not a regular file" "$IMQD_LOG")"
assert_eq "log lines 'keeping the running one'" 2 "$(grep -c 'keeping the running one' "$IMQD_LOG")"

if [ -r /dev/kmsg ]; then
	rm -f "$CONF"
	ln -s /dev/kmsg "$CONF" || fail "ln -s /dev/kmsg $CONF failed"
	reload_refused "link to /dev/kmsg"
	answers "after imqctl reload of /dev/kmsg"
else
	log "no /dev/kmsg here: the device case is left out"
fi

rm -f "$CONF"
cp "$T_TMP/imqd.conf.good" "$CONF" || fail "cannot put $CONF back"
timeout 20 "$IMQCTL" -s "$IMQD_SOCK" reload >"$T_TMP/reload.out" 2>&1
assert_eq "imqctl reload of the real file again: exit status" 0 "$?"
answers "after the real file is back"

# (b) imqd may open one descriptor more: imqctl's connection takes it, and
# the reload cannot open the file.
lowest_free() {
	local fd=0
	while [ -e "/proc/$IMQD_PID/fd/$fd" ]; do fd=$((fd + 1)); done
	echo "$fd"
}
not_valid=$(grep -c 'configuration not valid' "$IMQD_LOG")
nofile=$(prlimit --pid "$IMQD_PID" --nofile --noheadings --output SOFT,HARD | awk '{ print $1 ":" $2 }')
free=$(lowest_free)
prlimit --pid "$IMQD_PID" --nofile="$((free + 1)):${nofile#*:}" || fail "prlimit on imqd failed"
timeout 20 "$IMQCTL" -s "$IMQD_SOCK" reload >"$T_TMP/reload.out" 2>"$T_TMP/reload.err"
rc=$?
prlimit --pid "$IMQD_PID" --nofile="$nofile" || fail "prlimit on imqd failed"
assert_eq "out of descriptors: imqctl reload exit status" 1 "$rc"
if grep -qxF "$CONF: cannot open: Too many open files" "$T_TMP/reload.err"; then
	pass_msg "out of descriptors: imqctl reload says '$CONF: cannot open: Too many open files'"
else
	mismatch "out of descriptors: imqctl reload's errors: $(cat "$T_TMP/reload.err")"
fi
assert_eq "log lines '$CONF: Too many open files, keeping the running one'" 1 \
	"$(grep -c "$CONF: Too many open files, keeping the running one" "$IMQD_LOG")"
assert_eq "log lines 'configuration not valid' (those of (a))" "$not_valid" \
	"$(grep -c 'configuration not valid' "$IMQD_LOG")"
timeout 20 "$IMQCTL" -s "$IMQD_SOCK" reload >"$T_TMP/reload.out" 2>&1
assert_eq "descriptors back: imqctl reload exit status" 0 "$?"
answers "after running out of descriptors"
imqd_alive
stop_imqd
finish
