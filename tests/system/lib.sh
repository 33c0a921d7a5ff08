# Helpers of imqd's system test: the .deb, a Debian 12 root file system
# with systemd (debootstrap, cached), that root booted as a container whose
# network namespace is the test's gateway, and commands run inside it.
# Sourced after tests/e2e/lib.sh, whose set-up, clean-up, topology, traffic
# and assertions the test uses.
#
# Environment: IMQD_DEB_DIR (where deb.sh left the .deb; built into the
# test's temporary directory when unset), IMQD_SYSTEM_CACHE (where the root
# file system is cached, /var/cache/imqd-system-test by default).

SYS_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SYS_CACHE=${IMQD_SYSTEM_CACHE:-/var/cache/imqd-system-test}
SYS_SUITE=bookworm
# What the container needs besides the .deb's own dependencies: systemd as
# PID 1 and its journal, dbus for systemctl, tc for the up hook.
SYS_PACKAGES=(systemd systemd-sysv dbus iproute2)

SYS_ROOT=      # the container's root directory
SYS_NSPAWN=    # pid of systemd-nspawn
SYS_LEADER=    # host pid of the container's PID 1
SYS_CGROUPS=() # cgroups made for the container, removed once it is gone

# sys_need TOOL...: fail unless every one is installed.
sys_need() {
	local t
	for t; do
		command -v "$t" >/dev/null 2>&1 || fail "required tool '$t' not found (see tests/system/README.md)"
	done
}

# sys_gone TENTHS PID: wait until PID is gone, TENTHS x 0.1 s at most.
sys_gone() {
	local i
	for ((i = 0; i < $1; i++)); do
		kill -0 "$2" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$2" 2>/dev/null
}

# sys_deb: path of the imqd .deb to test: the one in IMQD_DEB_DIR, or one
# built now by deb.sh (a few minutes: compiler and the build's own tests).
sys_deb() {
	local dir=${IMQD_DEB_DIR:-} debs
	if [ -z "$dir" ]; then
		dir=$T_TMP/deb
		log "building the .deb (tests/system/deb.sh $dir)"
		bash "$SYS_HERE/deb.sh" "$dir" >"$T_TMP/deb.log" 2>&1 ||
			{ tail -n 40 "$T_TMP/deb.log" >&2; fail "tests/system/deb.sh failed"; }
	fi
	debs=("$dir"/imqd_*.deb)
	[ -f "${debs[0]}" ] || fail "no imqd_*.deb in $dir"
	[ "${#debs[@]}" -eq 1 ] || fail "more than one imqd_*.deb in $dir: ${debs[*]}"
	printf '%s\n' "${debs[0]}"
}

# sys_mirror: the Debian mirror apt on this machine uses for the suite.
sys_mirror() {
	apt-get indextargets --format '$(REPO_URI)' "Codename: $SYS_SUITE" 'Created-By: Packages' \
		'Component: main' 2>/dev/null | head -n 1
}

# sys_depends DEB: the packages DEB depends on, the first of each alternative.
sys_depends() {
	dpkg-deb -f "$1" Depends | tr ',' '\n' |
		sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g' | grep -v '^$' | sort -u
}

# sys_rootfs DEB DIR: a Debian 12 root in DIR with systemd and DEB's
# dependencies (no network in the container: dpkg -i must find them
# there). Made by debootstrap from the mirror apt uses, kept as a tar file
# in SYS_CACHE named by the suite, mirror and packages, and unpacked from
# there by later runs.
sys_rootfs() {
	local deb=$1 dir=$2 mirror pkgs key tar t0
	sys_need debootstrap dpkg-deb sha256sum tar flock
	mirror=$(sys_mirror)
	[ -n "$mirror" ] || fail "apt knows no mirror for $SYS_SUITE (apt-get indextargets)"
	pkgs=$(printf '%s\n' "${SYS_PACKAGES[@]}" $(sys_depends "$deb") | sort -u | paste -sd, -)
	key=$(printf '%s %s %s\n' "$SYS_SUITE" "$mirror" "$pkgs" | sha256sum | cut -c1-16)
	tar=$SYS_CACHE/rootfs-$key.tar
	mkdir -p "$SYS_CACHE" || fail "cannot create $SYS_CACHE"
	t0=$(date +%s)
	(
		flock 9
		[ -f "$tar" ] && exit 0
		log "no cached root for $pkgs: debootstrap $SYS_SUITE from $mirror"
		rm -rf "$SYS_CACHE/build" && mkdir "$SYS_CACHE/build" || exit 1
		timeout 900 debootstrap --variant=minbase --include="$pkgs" "$SYS_SUITE" \
			"$SYS_CACHE/build" "$mirror" >"$SYS_CACHE/debootstrap.log" 2>&1 || exit 1
		tar -C "$SYS_CACHE/build" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar" || exit 1
		rm -rf "$SYS_CACHE/build"
		# One root is enough: those for other package lists are stale.
		find "$SYS_CACHE" -maxdepth 1 -name 'rootfs-*.tar' ! -name "rootfs-$key.tar" -delete
	) 9>"$SYS_CACHE/lock" || {
		tail -n 20 "$SYS_CACHE/debootstrap.log" >&2
		rm -rf "$SYS_CACHE/build" "$tar.tmp"
		fail "debootstrap of $SYS_SUITE failed (log above, $SYS_CACHE/debootstrap.log)"
	}
	mkdir "$dir" && tar -C "$dir" -xf "$tar" || fail "cannot unpack $tar into $dir"
	log "container root ready in $(($(date +%s) - t0)) s ($tar)"
}

# sys_cgroups: SYS_CGROUPS, a cgroup of its own for the container in each
# hierarchy that systemd-nspawn uses, below this shell's own (nspawn leaves
# the groups it makes behind when the host is not run by systemd).
sys_cgroups() {
	local mnt line g
	mnt=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
	line=$(grep -m 1 '^0::' /proc/self/cgroup)
	[ -n "$mnt" ] && [ -n "$line" ] && SYS_CGROUPS+=("$mnt${line#0::}/imqd-system.$$")
	mnt=$(findmnt -n -t cgroup -O name=systemd -o TARGET | head -n 1)
	line=$(grep -m 1 ':name=systemd:' /proc/self/cgroup)
	[ -n "$mnt" ] && [ -n "$line" ] && SYS_CGROUPS+=("$mnt${line##*:name=systemd:}/imqd-system.$$")
	SYS_CGROUPS=("${SYS_CGROUPS[@]//\/\//\/}")
	for g in "${SYS_CGROUPS[@]}"; do
		mkdir -p "$g" || fail "cannot create cgroup $g"
	done
}

# sys_boot NETNS: boot SYS_ROOT as a container in NETNS (its network is the
# namespace's) with systemd as PID 1, and wait for it to be up (60 s).
sys_boot() {
	local ns=$1 i p state
	sys_need systemd-nspawn nsenter findmnt pgrep
	T_ATEXIT+=(sys_halt)
	sys_cgroups
	# The host's PID 1 is not systemd: --keep-unit, --register=no. bpf(2)
	# allowed, or the container's systemd silently skips DeviceAllow=.
	# CAP_NET_ADMIN, which --private-network would add and a namespace of
	# our own does not: imqd.service passes it on to imqd.
	SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 bash -c '
		for f in $1; do echo $$ >"$f" || exit 1; done
		shift
		exec systemd-nspawn "$@"' sys-boot "${SYS_CGROUPS[*]/%//cgroup.procs}" -D "$SYS_ROOT" -b --register=no \
		--keep-unit --network-namespace-path="/run/netns/$ns" --capability=CAP_NET_ADMIN \
		--system-call-filter=bpf \
		--console=read-only </dev/null >"$T_TMP/console.log" 2>&1 &
	SYS_NSPAWN=$!
	# The container's PID 1 is the child of nspawn that is pid 1 in its own
	# namespace (nspawn's other, short-lived child is not).
	for i in $(seq 100); do
		for p in $(pgrep -P "$SYS_NSPAWN"); do
			awk '/^NSpid:/ { exit !(NF > 2 && $NF == 1) }' "/proc/$p/status" 2>/dev/null &&
				SYS_LEADER=$p
		done
		[ -n "$SYS_LEADER" ] && break
		kill -0 "$SYS_NSPAWN" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$SYS_LEADER" ] || { tail -n 20 "$T_TMP/console.log" >&2; fail "systemd-nspawn did not start a container"; }
	# "offline" until PID 1 listens on its private socket.
	for i in $(seq 600); do
		state=$(ctr systemctl is-system-running 2>/dev/null)
		case $state in offline | initializing | starting | '') sleep 0.1 ;; *) break ;; esac
	done
	if [ "$state" != running ]; then
		ctr systemctl --failed --no-pager >&2
		fail "the container's systemd is '$state', not running"
	fi
	log "container up: systemd-nspawn $SYS_NSPAWN, PID 1 is host pid $SYS_LEADER ($(ctr systemctl --version | head -n 1))"
}

# ctr CMD...: run CMD inside the container, as its root.
ctr() { nsenter -t "$SYS_LEADER" -a "$@"; }

# sys_halt: stop the container (its systemd shuts down), kill what is left,
# remove its cgroups and its root directory. Registered by sys_boot.
sys_halt() {
	if [ -n "$SYS_NSPAWN" ] && kill -0 "$SYS_NSPAWN" 2>/dev/null; then
		kill -TERM "$SYS_NSPAWN"
		sys_gone 150 "$SYS_NSPAWN" || kill -KILL "$SYS_NSPAWN"
	fi
	local g p
	for g in "${SYS_CGROUPS[@]}"; do
		[ -d "$g" ] || continue
		for p in $(cat $(find "$g" -name cgroup.procs) 2>/dev/null); do kill -KILL "$p"; done
	done
	[ -n "$SYS_NSPAWN" ] && sys_gone 50 "$SYS_NSPAWN"
	for g in "${SYS_CGROUPS[@]}"; do
		[ -d "$g" ] && find "$g" -depth -type d -exec rmdir {} \;
	done
	sys_remove_root
}

# sys_remove_root: remove SYS_ROOT, unless something is still mounted inside.
sys_remove_root() {
	[ -n "$SYS_ROOT" ] && [ -d "$SYS_ROOT" ] || return 0
	if findmnt -R -n -o TARGET "$SYS_ROOT" >/dev/null 2>&1 ||
		grep -q " $SYS_ROOT/" /proc/self/mounts; then
		umount -R -l "$SYS_ROOT" 2>/dev/null
	fi
	if grep -q " $SYS_ROOT[ /]" /proc/self/mounts; then
		log "not removing $SYS_ROOT: still mounted"
		return 1
	fi
	rm -rf --one-file-system "$SYS_ROOT"
}

# sys_unit PROPERTY: PROPERTY of imqd.service (systemctl show).
sys_unit() { ctr systemctl show imqd.service -p "$1" --value; }

# sys_host_pid PID: the host's pid of the container's process PID.
sys_host_pid() {
	local f p
	for f in /proc/[0-9]*/status; do
		# NSpid: the pid in each namespace from the host's on, the container's last.
		awk -v want="$1" '/^NSpid:/ { found = NF > 2 && $NF == want } END { exit !found }' \
			"$f" 2>/dev/null || continue
		p=${f#/proc/}
		p=${p%/status}
		sys_descends "$p" && { printf '%s\n' "$p"; return 0; }
	done
	return 1
}

# sys_descends PID: true when the container's PID 1 is PID or an ancestor of it.
sys_descends() {
	local p=$1
	while [ -n "$p" ] && [ "$p" -gt 1 ]; do
		[ "$p" = "$SYS_LEADER" ] && return 0
		p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
	done
	return 1
}
