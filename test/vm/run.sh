#!/usr/bin/env bash
# The VM test step: PKU behaviour verified under QEMU TCG -cpu max (which emulates PKU) on
# Debian's kernels, so it runs on hosts without PKU and on kernels other than the host's.
#
#   bash test/vm/run.sh [KERNEL...]     KERNEL: a series (6.1, 6.12), a Debian package name
#                                       (linux-image-...), or a vmlinuz file. Default: 6.1 6.12.
#   REMC_ROOT=/other/checkout bash test/vm/run.sh 6.1    tests that tree's build (after npm ci)
#
# Per kernel it boots an initramfs holding busybox, node + its libraries, the build under test
# and the native domain_test, whose /init (test/vm/init) runs domain_test and pku-faults.mjs.
# Kernels come from Debian's archive (apt-get download + dpkg-deb, never installed) and are kept
# in $REMC_VM_CACHE (default /var/cache/remcached-vm), as are the 4 latest initramfs images.
# Output: the guest's result lines prefixed with the kernel, one result line per kernel, and a
# last line "N passed, N failed". Exit 0 all passed, 1 any failed, 77 skipped (cannot run here).
# Env: REMC_VM_TIMEOUT seconds per VM (default 520), REMC_VM_CACHE.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "${REMC_ROOT:-$HERE/../..}" && pwd) || { echo "REMC_ROOT=$REMC_ROOT: no such directory"; exit 1; }
BOUND=${REMC_VM_TIMEOUT:-520} # > the guest's own bounds: ~10 s boot + 120 s domain_test + 340 s node
KERNELS=("$@"); [ ${#KERNELS[@]} -eq 0 ] && KERNELS=(6.1 6.12)

skip() { echo "skipped: $*"; exit 77; }
die() { echo "error: $*"; echo "0 passed, 1 failed"; exit 1; }
now() { date +%s.%N; }
secs() { awk "BEGIN{printf \"%.1f\", $(now) - $1}"; }

[ "$(uname -m)" = x86_64 ] || skip "not an x86-64 host ($(uname -m))"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] && ! ldd "$BUSYBOX" >/dev/null 2>&1 || skip "no static busybox (apt-get install busybox-static)"
NODE=$(readlink -f "$(command -v node)") || skip "node missing"
for f in dist/server/main.js build/Release/remcached.node native/include/remc_fault_inject.h native/test/domain_test.c; do
  [ -e "$ROOT/$f" ] || die "$ROOT/$f missing (run npm ci in $ROOT first)"
done

CACHE=${REMC_VM_CACHE:-/var/cache/remcached-vm}
mkdir -p "$CACHE" 2>/dev/null && [ -w "$CACHE" ] || CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/remcached-vm
mkdir -p "$CACHE/kernels" "$CACHE/initramfs" || skip "cannot create a cache directory ($CACHE)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/remcached-vm.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
T_ALL=$(now)

# ---- kernels -----------------------------------------------------------------------------------
# The newest Debian package of a series, by name, so ABI bumps (6.1.0-57 -> -58) need no edit.
# For the series linux-image-amd64 depends on (bookworm: 6.1), that dependency is the stock kernel.
pkg_for_series() {
  local re=${1//./\\.} p
  p=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends:/{print $2}' | grep -E "^linux-image-$re\.[0-9]+-[0-9]+-amd64$" | head -n1)
  [ -n "$p" ] || p=$(apt-cache search --names-only "^linux-image-$re\." 2>/dev/null | awk '{print $1}' |
    grep -E "^linux-image-$re\.[0-9]+(-[0-9]+|\+deb[0-9]+)-amd64(-unsigned)?$" | sort -V | tail -n1)
  echo "$p"
}
apt_updated=0
# Sets KPATH to a cached vmlinuz for $1, downloading it if needed; empty if not obtainable.
# (Not run in $(...): apt_updated must stick.)
kernel() {
  local k=$1 pkg d
  KPATH=
  if [ -f "$k" ]; then KPATH=$k; return; fi
  case $k in linux-image-*) pkg=$k ;; *) pkg=$(pkg_for_series "$k") ;; esac
  if [ -z "$pkg" ] && [ $apt_updated = 0 ] && [ "$(id -u)" = 0 ]; then
    apt_updated=1; apt-get update -qq >/dev/null 2>&1; pkg=$(pkg_for_series "$k")
  fi
  if [ -n "$pkg" ] && [ ! -f "$CACHE/kernels/$pkg/vmlinuz" ]; then
    d=$(mktemp -d "$WORK/dl.XXXX")
    local sandbox=(); [ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)
    # only vmlinuz is kept: the modules are not needed (the initramfs is the root; ttyS0 is built in)
    if (cd "$d" && apt-get -qq "${sandbox[@]}" download "$pkg" >/dev/null 2>&1 &&
        dpkg-deb --fsys-tarfile ./*.deb | tar -x --wildcards './boot/vmlinuz-*') ; then
      mkdir -p "$CACHE/kernels/$pkg" && mv "$d"/boot/vmlinuz-* "$CACHE/kernels/$pkg/vmlinuz.tmp$$" &&
        mv "$CACHE/kernels/$pkg/vmlinuz.tmp$$" "$CACHE/kernels/$pkg/vmlinuz"
    fi
    rm -rf "$d"
  fi
  if [ -n "$pkg" ] && [ -f "$CACHE/kernels/$pkg/vmlinuz" ]; then KPATH=$CACHE/kernels/$pkg/vmlinuz; return; fi
  # offline: the newest cached kernel of that series
  case $k in linux-image-*) return ;; esac
  d=$(ls -d "$CACHE"/kernels/linux-image-"$k".*/vmlinuz 2>/dev/null | sort -V | tail -n1)
  [ -n "$d" ] && KPATH=$d
}

declare -A VMLINUZ
for k in "${KERNELS[@]}"; do
  kernel "$k"; VMLINUZ[$k]=$KPATH
  [ -n "${VMLINUZ[$k]}" ] || skip "kernel $k not obtainable from Debian's archive (apt-get download) nor in $CACHE/kernels"
done
echo "kernels: $(for k in "${KERNELS[@]}"; do printf '%s=%s ' "$k" "${VMLINUZ[$k]#"$CACHE"/kernels/}"; done)"

# ---- initramfs ---------------------------------------------------------------------------------
T_IR=$(now)
S=$WORK/root
mkdir -p "$S"/{bin,usr/bin,proc,sys,dev,tmp,remc/build/Release,remc/native/include,remc/test/vm,remc/node_modules}

# domain_test, built as native/test/run.sh builds it: sources and cflags from its first two lines
t=$ROOT/native/test/domain_test.c
srcs=$(sed -n '1s|^//[[:space:]]*sources:||p' "$t"); cflags=$(sed -n '2s|^//[[:space:]]*cflags:||p' "$t")
# shellcheck disable=SC2086 # the globs and flags are meant to split, as in run.sh
(cd "$ROOT" && ${CC:-gcc} -std=gnu11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror=implicit-function-declaration \
   -I"$ROOT/native/include" $cflags -o "$S/remc/domain_test" "$t" $srcs -lm -lpthread) >"$WORK/cc.log" 2>&1 ||
  { cat "$WORK/cc.log"; die "domain_test did not build"; }

cp "$HERE/init" "$S/init" && chmod 755 "$S/init"
cp "$BUSYBOX" "$S/bin/busybox"
cp "$NODE" "$S/usr/bin/node"
# the libraries the dynamic loader will look for, at the paths ldd names
for lib in $(ldd "$NODE" "$ROOT/build/Release/remcached.node" "$S/remc/domain_test" | grep -oE '(/[^ ]+\.so[^ ]*)' | sort -u); do
  mkdir -p "$S$(dirname "$lib")" && cp -L "$lib" "$S$lib"
done
cp -r "$ROOT/dist" "$ROOT/package.json" "$S/remc/"
cp "$ROOT/build/Release/remcached.node" "$S/remc/build/Release/"
cp "$ROOT/native/include/remc_fault_inject.h" "$S/remc/native/include/"
cp "$HERE/pku-faults.mjs" "$S/remc/test/vm/"
mkdir -p "$S/remc/test/isolation/fixtures" && cp "$ROOT/test/isolation/fixtures/wasm-after-addon.cjs" "$S/remc/test/isolation/fixtures/"
# node_modules: the closure of package.json's "dependencies" (runtime only; pino and its deps)
(cd "$ROOT" && node -e '
  const fs = require("fs"), p = require("path"), root = process.cwd(), seen = new Set();
  const find = (from, n) => { for (let d = from; ; d = p.dirname(d)) {
    const c = p.join(d, "node_modules", n); if (fs.existsSync(p.join(c, "package.json"))) return c;
    if (d === root) throw new Error(`dependency ${n} of ${from} not installed`); } };
  const walk = (dir) => { if (seen.has(dir)) return; seen.add(dir);
    for (const n of Object.keys(JSON.parse(fs.readFileSync(p.join(dir, "package.json"))).dependencies || {})) walk(find(dir, n)); };
  walk(root); seen.delete(root); for (const d of seen) console.log(p.relative(root, d));') >"$WORK/deps" ||
  die "cannot resolve node_modules of $ROOT"
while read -r d; do mkdir -p "$S/remc/$(dirname "$d")"; cp -r "$ROOT/$d" "$S/remc/$d"; done <"$WORK/deps"

# Cached by content: compressing ~150 MiB costs several seconds, hashing it a fraction of that.
KEY=$(cd "$S" && find . \( -type f -o -type l \) -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
IR=$CACHE/initramfs/$KEY.cpio.gz
if [ -f "$IR" ]; then
  touch "$IR"; ir_how="cached"
else
  (cd "$S" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -1 >"$IR.tmp$$") && mv "$IR.tmp$$" "$IR" ||
    die "could not build the initramfs"
  ir_how="built"
  ls -t "$CACHE"/initramfs/*.cpio.gz | tail -n +5 | xargs -r rm -f # keep the 4 most recent
fi
rev=$(git -C "$ROOT" describe --always --dirty=' with uncommitted changes' 2>/dev/null || echo 'not a git checkout')
echo "initramfs: $ir_how $IR ($(du -m "$IR" | cut -f1) MiB) in $(secs "$T_IR") s, testing $ROOT ($rev)"

# ---- boot each kernel --------------------------------------------------------------------------
pass=0; fail=0; summary=()
for k in "${KERNELS[@]}"; do
  log=$CACHE/console-${k//\//_}.log # kept after the run, for a look at what the guest printed
  echo "== $k: booting ${VMLINUZ[$k]} (qemu TCG -cpu max, bound ${BOUND} s)"
  t0=$(now)
  timeout -k 10 "$BOUND" qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 2048 -nic none \
    -kernel "${VMLINUZ[$k]}" -initrd "$IR" -append "console=ttyS0 rdinit=/init quiet panic=-1" \
    -nographic -no-reboot </dev/null 2>&1 | tr -d '\r' | sed -u 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1b.//g' | tee "$log" |
    grep --line-buffered -E '^(ok |not ok |# |vm: |pku-faults: )' | sed -u "s|^|[$k] |"
  rc=${PIPESTATUS[0]} # timeout's: 124 when the bound was hit
  took=$(secs "$t0")
  p=$(grep -c '^ok ' "$log"); f=$(grep -c '^not ok ' "$log")
  if grep -q '^vm: done' "$log"; then
    p=$((p + 1)); echo "[$k] ok VM ran to the end"
  else
    f=$((f + 1))
    [ "$rc" = 124 ] && why="timed out after $BOUND s" || why="qemu exit status $rc"
    echo "[$k] not ok VM ran to the end: $why; last console lines:"
    tail -n 20 "$log" | sed "s|^|[$k] #   |"
  fi
  pass=$((pass + p)); fail=$((fail + f))
  [ "$f" = 0 ] && verdict=PASS || verdict=FAIL
  summary+=("$verdict $k: $p passed, $f failed, ${took} s ($(sed -n 's/^vm: kernel \([^,]*\),.*/\1/p' "$log" | head -n1))")
done

for l in "${summary[@]}"; do echo "$l"; done
echo "total $(secs "$T_ALL") s"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
