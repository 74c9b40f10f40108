#!/usr/bin/env bash
# setup.sh — prepares tests/vm/run_in_vm.sh (opt-in: CI and scripts/install-deps.sh do not run it).
#   1. installs the Debian packages qemu-system-x86 and busybox-static, only those missing
#      (apt-get update runs once, when needed);
#   2. fetches Debian's own kernel package (the one linux-image-amd64 depends on, 6.1.x on
#      bookworm) with `apt-get download` — it is NOT installed: it is unpacked with
#      dpkg-deb -x into the cache dir, its module index made with `busybox depmod`;
#   3. builds a small initramfs there (busybox-static, tests/vm/init, the virtio/9p modules).
# Everything goes under ${SOCKIT_VM_CACHE:-$HOME/.cache/sockit-vm}; a second run does nothing
# but rebuild the initramfs when tests/vm/init changed. Usage: tests/vm/setup.sh [--force]
# Also extracts the uncompressed vmlinux from the bzImage (python3's lzma) for a faster boot.
# (--force unpacks the kernel and rebuilds the initramfs again; SOCKIT_VM_KERNEL_DEB=FILE.deb
# uses that kernel package instead of downloading one).
set -eu -o pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${SOCKIT_VM_CACHE:-$HOME/.cache/sockit-vm}"
force=""
[ "${1:-}" = "--force" ] && force=1

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
updated=""
apt_update() { [ -n "$updated" ] || { $SUDO apt-get update -qq; updated=1; }; }

# 1. host packages
missing=""
for p in qemu-system-x86 busybox-static; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "vm-setup: installing$missing"
    apt_update
    $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 2. the guest kernel, unpacked (not installed) into $cache/kernel
mkdir -p "$cache"
kdir="$cache/kernel"
if [ -n "$force" ] || ! ls "$kdir"/boot/vmlinuz-* >/dev/null 2>&1; then
    rm -rf "$kdir" "$cache/dl"
    mkdir -p "$cache/dl"
    deb="${SOCKIT_VM_KERNEL_DEB:-}"
    if [ -z "$deb" ]; then
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
        if [ -z "$pkg" ]; then
            apt_update
            pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
        fi
        [ -n "$pkg" ] || { echo "vm-setup: cannot resolve the kernel package linux-image-amd64 depends on" >&2; exit 1; }
        echo "vm-setup: downloading $pkg (not installing it)"
        (cd "$cache/dl" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null) ||
            { apt_update; (cd "$cache/dl" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null); }
        deb=$(ls "$cache"/dl/linux-image-*.deb | head -n1)
    fi
    echo "vm-setup: unpacking $(basename "$deb")"
    mkdir -p "$kdir.tmp"
    dpkg-deb -x "$deb" "$kdir.tmp"
    kver=$(basename "$(ls -d "$kdir.tmp"/lib/modules/*)")
    busybox depmod -b "$kdir.tmp" "$kver"
    # the ELF vmlinux inside the bzImage: qemu boots it through its PVH entry, which skips the
    # firmware's real-mode path and the xz decompression (~5 s without KVM)
    py=$(command -v /usr/bin/python3 python3 | head -n1)
    "$py" - "$kdir.tmp"/boot/vmlinuz-* "$kdir.tmp/boot/vmlinux" <<'PY' || rm -f "$kdir.tmp/boot/vmlinux"
import lzma, sys
data = open(sys.argv[1], "rb").read()
at = data.find(b"\xfd7zXZ\x00")
out = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[at:]) if at >= 0 else b""
if out[:4] != b"\x7fELF":
    sys.exit("vm-setup: no xz-compressed ELF in the bzImage; booting the bzImage instead")
open(sys.argv[2], "wb").write(out)
PY
    rm -rf "$kdir.tmp/usr/share/doc" "$cache/dl"
    mv "$kdir.tmp" "$kdir"
    rm -f "$cache/initramfs.cpio.gz"
fi
kver=$(basename "$(ls -d "$kdir"/lib/modules/*)")
moddir="$kdir/lib/modules/$kver"

# 3. the initramfs: busybox + /init + what mounting the host's root over virtio-9p needs
# (the rest of the kernel's modules, tls.ko among them, are read from $kdir after that mount).
initrd="$cache/initramfs.cpio.gz"
if [ -n "$force" ] || [ ! -s "$initrd" ] || [ "$here/init" -nt "$initrd" ] || [ "$0" -nt "$initrd" ]; then
    stage=$(mktemp -d "$cache/initramfs.XXXXXX")
    trap 'rm -rf "$stage"' EXIT
    mkdir -p "$stage"/{bin,sbin,dev,proc,sys,host,newroot,ovl,run,tmp,lib/modules/"$kver"}
    cp /bin/busybox "$stage/bin/busybox"
    for a in $("$stage/bin/busybox" --list); do
        [ "$a" = busybox ] || ln -s busybox "$stage/bin/$a"
    done
    ln -s ../bin/busybox "$stage/sbin/modprobe" # /proc/sys/kernel/modprobe: request_module() from the kernel
    install -m 0755 "$here/init" "$stage/init"
    [ "$(id -u)" -ne 0 ] || mknod -m 600 "$stage/dev/console" c 5 1
    # module closure, from the modules.dep that busybox depmod wrote
    want="virtio_pci 9pnet_virtio 9p"
    seen=""
    add() { # module path relative to $moddir
        case " $seen " in *" $1 "*) return ;; esac
        seen="$seen $1"
        local deps
        deps=$(sed -n "s|^$1:||p" "$moddir/modules.dep")
        for d in $deps; do add "$d"; done
    }
    for m in $want; do
        p=$(grep -E "^([^:]*/)?$m\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -n1 | cut -d: -f1)
        [ -n "$p" ] || { echo "vm-setup: module $m not found in $kver" >&2; exit 1; }
        add "$p"
    done
    for p in $seen; do
        mkdir -p "$stage/lib/modules/$kver/$(dirname "$p")"
        cp "$moddir/$p" "$stage/lib/modules/$kver/$p"
    done
    busybox depmod -b "$stage" "$kver"
    (cd "$stage" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$initrd.tmp"
    mv "$initrd.tmp" "$initrd"
    echo "vm-setup: built $initrd (kernel $kver)"
fi
