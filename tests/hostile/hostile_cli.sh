#!/usr/bin/env bash
# The hostile command-line table (issue 19): popek run with each bad command line must answer
# with exit status 2, exactly one line on stderr (starting "popek"), nothing on stdout, no file
# created, within 8 s. The cases: files that are not kernels (directories, devices,
# FIFOs, empty, too large), crafted ELF and bzImage headers, bad numbers and option
# combinations, disks that are locked, odd-sized or not files, `popek backend` misuse and
# `popek disk-inspect` images that are not sealed disks.
# Usage: hostile_cli.sh POPEK_BINARY   (the release or the ASan build: ctest runs both)
set -uo pipefail
POPEK=$(realpath "${1:?usage: hostile_cli.sh POPEK_BINARY}") || exit 1
LIMIT_S=${HOSTILE_LIMIT_S:-20}     # per case: killed after this (a hang)
QUICK_MS=${HOSTILE_QUICK_MS:-8000}  # per case: slower fails (a 2 GiB read took 18 s); ASan took up to 2 s on a loaded 2-core host
work=$(mktemp -d /tmp/popek-hostile-XXXXXX)
trap 'rm -rf "$work"' EXIT
# popek runs in the empty directory run/ (nothing may appear there); its inputs are in in/.
cd "$work" || exit 1
mkdir in run
failures=0 cases=0

# Little-endian bytes as printf escapes: le N VALUE
le() { local n=$1 v=$2 s='' i; for ((i = 0; i < n; i++)); do s+=$(printf '\\x%02x' $(((v >> (8 * i)) & 0xff))); done; printf '%s' "$s"; }
# poke FILE OFFSET ESCAPED_BYTES: write bytes at OFFSET without truncating
poke() { printf "$3" | dd of="$1" bs=1 seek=$(($2)) conv=notrunc status=none; }

# ELF64 x86-64 executable, one PT_LOAD (System V gABI "ELF Header" and "Program Header"):
# elf FILE PHNUM P_OFFSET P_FILESZ P_MEMSZ [MACHINE]
elf() {
  truncate -s 4112 "$1"
  poke "$1" 0 '\x7fELF\x02\x01\x01'
  poke "$1" 16 "$(le 2 2)$(le 2 "${6:-62}")$(le 4 1)$(le 8 0x100000)$(le 8 64)$(le 8 0)$(le 4 0)$(le 2 64)$(le 2 56)$(le 2 "$2")"
  poke "$1" 64 "$(le 4 1)$(le 4 5)$(le 8 "$3")$(le 8 0x100000)$(le 8 0x100000)$(le 8 "$4")$(le 8 "$5")$(le 8 4096)"
}
# bzImage real-mode header (Documentation/arch/x86/boot.rst): bz FILE VERSION INITRD_ADDR_MAX INIT_SIZE
bz() {
  truncate -s 8192 "$1"
  poke "$1" 0x1f1 '\x01'
  poke "$1" 0x1fe '\x55\xaa\xeb\x66HdrS'
  poke "$1" 0x206 "$(le 2 "$2")"
  poke "$1" 0x22c "$(le 4 "$3")$(le 4 0x200000)\x01"
  poke "$1" 0x236 '\x01\x00'   # xloadflags: XLF_KERNEL_64
  poke "$1" 0x238 "$(le 4 2048)"
  poke "$1" 0x258 "$(le 8 0x1000000)$(le 4 "$4")"
}

K=$work/in/kernel.elf; elf "$K" 1 4096 16 16               # a well-formed kernel, for the initrd cases
: > in/empty
truncate -s 2G in/sparse-2g
mkfifo in/fifo
truncate -s 1000 in/odd.img
truncate -s 1M in/disk.img
printf '\x7fELF' > in/elf-truncated
elf in/elf-phnum 65535 4096 16 16
elf in/elf-offset 1 0xfffffffffffff000 16 16
elf in/elf-filesz 1 4096 0x100000 0x100000
elf in/elf-memsz 1 4096 16 0x10000000000
elf in/elf-machine 1 4096 16 16 3
bz in/bz-initrd-max0 0x20f 0 0x100000
bz in/bz-old 0x200 0x7fffffff 0x100000
bz in/bz-init0 0x20f 0x7fffffff 0
bz in/bz-whole 0x20f 0x7fffffff 0x100000
head -c $((0x230)) in/bz-whole > in/bz-truncated
sd() {   # sd FILE RAW DATA META [CIPHER]: a sealed-disk v2 header (docs/guest-os.md "On-disk format")
  truncate -s 4096 "$1"
  poke "$1" 0 "POPEKSDK$(le 4 2)$(le 4 "${5:-1}")$(le 4 1)$(le 4 512)$(le 4 16)$(le 4 16)$(le 8 "$2")$(le 8 "$3")$(le 8 "$4")"
  poke "$1" 80 'popekdsk'
  poke "$1" 120 "$(le 4 8)"
}
sd in/sd-geometry 8 1000 63
sd in/sd-short 100 88 1
sd in/sd-cipher 100 88 1 3
# Firecracker config files (docs/api.md).
printf '{"boot-source": {"kernel_image_path": "%s"}, "popek": {"accel": "interp"}}' "$K" >$work/in/vm.json
printf '{"boot-source": {"kernel_image_path": "%s", "initrd": "x"}}' "$K" >$work/in/vm-unknown.json
printf '{"boot-source": ' >$work/in/vm-truncated.json
ls -la --time-style=+ in > listing.before

# case EXPECTED_SUBSTRING ARGS...
case_() {
  local want=$1; shift
  cases=$((cases + 1))
  local start end status lines
  start=${EPOCHREALTIME/./}
  (cd run && exec timeout -s KILL "$LIMIT_S" "$POPEK" "$@" </dev/null >../out.txt 2>../err.txt)
  status=$?
  end=${EPOCHREALTIME/./}
  lines=$(wc -l < err.txt)
  local why='' ms=$(((end - start) / 1000))
  [ "$ms" -le "$QUICK_MS" ] || why+=" took $ms ms (more than $QUICK_MS);"
  [ "$status" = 2 ] || why+=" status $status (not 2);"
  [ "$lines" = 1 ] || why+=" $lines stderr lines;"
  [ -s out.txt ] && why+=" stdout not empty;"
  grep -q '^popek' err.txt || why+=" stderr does not start with 'popek';"
  grep -qF -- "$want" err.txt || why+=" no '$want' on stderr;"
  [ -z "$(ls -A run)" ] || why+=" created $(ls -A run | head -3 | tr '\n' ' ');"
  ls -la --time-style=+ in | cmp -s - listing.before || why+=" changed in/;"
  local shown
  shown=$(printf '%s ' "$@" | cut -c1-150)
  if [ -n "$why" ]; then
    failures=$((failures + 1))
    printf 'FAIL popek %s:%s\n     stderr: %s\n' "$shown" "$why" "$(head -c 300 err.txt)"
  else
    printf 'ok   %4d ms  popek %s\n' "$ms" "$shown"
  fi
  rm -rf out.txt err.txt run/* run/.[!.]*
}

I='--accel interp'
# Files that are not kernels or initrds (defects 1-3 of issue 19).
case_ 'is a directory' run --kernel /tmp
case_ 'is a directory' run --kernel "$K" --initrd /tmp
case_ 'not a regular file' run --kernel /dev/zero
case_ 'not a regular file' run --kernel "$K" --initrd /dev/zero
case_ 'not a regular file' run --kernel $work/in/fifo
case_ 'No such file' run --kernel $work/in/missing
case_ 'is empty' run --kernel $work/in/empty
case_ 'more than fits' run --mem 64 --kernel "$K" --initrd $work/in/sparse-2g
# Crafted kernel headers.
case_ 'ELF file truncated' run $I --kernel $work/in/elf-truncated
case_ 'program header table (65535 entries at 0x40) extends past end of file' run $I --kernel $work/in/elf-phnum
case_ 'extends past end of file' run $I --kernel $work/in/elf-offset
case_ 'extends past end of file' run $I --kernel $work/in/elf-filesz
case_ 'lies outside guest RAM' run $I --kernel $work/in/elf-memsz
case_ 'ELF machine 3 is not 62' run $I --kernel $work/in/elf-machine
case_ 'initrd_addr_max 0x0' run $I --kernel $work/in/bz-initrd-max0 --initrd "$K"
case_ 'too old' run $I --kernel $work/in/bz-old
case_ 'init_size is 0' run $I --kernel $work/in/bz-init0
case_ 'setup header extends past end of file' run $I --kernel $work/in/bz-truncated
# Numbers and option combinations.
case_ "'abc' is not a whole number" run --mem abc
case_ 'out of range' run --mem 1
case_ 'out of range' run --mem 99999999999999999999
case_ '--mem' run --mem 16000000
case_ "'x' is not a whole number" run --cpus x
case_ 'out of range' run --cpus 0
case_ 'out of range' run --bt-cache 0
case_ '--accel' run --accel qemu
case_ '--no-such-option' run --no-such-option
case_ 'subcommand' --kernel "$K"
case_ 'command line is 100000 bytes' run --cmdline "$(head -c 100000 /dev/zero | tr '\0' x)" $I --kernel "$K"
case_ '--net' run --net bogus
case_ '--net' run --net dgram=only-one-path
case_ 'needs --xen' run --share /tmp
case_ "unknown flag 'rw'" run --xen --share /tmp,rw
case_ 'needs --xen' run --driver-domain --disk $work/in/disk.img
case_ 'at least one --disk' run --xen --driver-domain
case_ '--rng is a virtio device' run --xen --rng
case_ '--device' run --accel interp --device e1000
case_ 'not supported on --accel kvm' run --accel kvm --iommu intel
case_ 'which --xen guests do not get' run --accel interp --xen --device edu
# Disks (defect 5).
case_ 'No such file' run $I --disk $work/in/missing.img
case_ "unknown flag 'rw'" run $I --disk $work/in/disk.img,rw
case_ 'Is a directory' run $I --disk /tmp
case_ 'not a file or block device' run $I --disk $work/in/fifo,ro
case_ 'not a file or block device' run $I --disk /dev/zero
case_ 'not a whole number of 512-byte sectors' run $I --disk $work/in/odd.img
case_ 'is in use' run $I --disk $work/in/disk.img --disk $work/in/disk.img
case_ 'is in use' run $I --disk $work/in/disk.img,ro --disk $work/in/disk.img
case_ 'is in use' run $I --xen --driver-domain --disk $work/in/disk.img --disk $work/in/disk.img
# Firecracker's config file and API socket (issue 14, docs/api.md).
case_ 'is a directory' run --config-file /tmp
case_ 'not a regular file' run --config-file /dev/zero
case_ 'No such file' run --config-file $work/in/missing.json
case_ '--kernel cannot be given with it' run --config-file $work/in/vm.json --kernel "$K"
case_ 'unknown field `initrd`' run --config-file $work/in/vm-unknown.json
case_ 'malformed JSON' run --config-file $work/in/vm-truncated.json
case_ 'already exists' run --api-sock /tmp
case_ 'unix socket path must be 1 to 107 bytes' run --api-sock "/tmp/$(head -c 200 /dev/zero | tr '\0' s)"
# Least privilege (issue 19 item 6, docs/security-model.md "Privileges").
case_ '--uid needs --gid' run $I --uid 65534 --kernel "$K"
case_ '--gid needs --uid' run $I --gid 65534 --kernel "$K"
case_ "'nobody' is not a whole number" run $I --uid nobody --gid 65534 --kernel "$K"
case_ 'out of range' run $I --uid 4294967295 --gid 0 --kernel "$K"
case_ 'No such file' run $I --chroot $work/in/missing-dir --kernel "$K"
case_ 'not a directory' run $I --chroot "$K" --kernel "$K"
case_ '--chroot cannot be combined with --net dgram=' run $I --chroot $work/in --net dgram=a,b --kernel "$K"
# The driver domain's own entry point (defect 4).
case_ '--disk-fd is required' backend --socket-fd 3
case_ 'not a SOCK_SEQPACKET socket' backend --socket-fd 0 --disk-fd 98
case_ 'must be open descriptors' backend --socket-fd -1 --disk-fd 0
case_ 'Could not convert' backend --socket-fd abc --disk-fd 1

# popek disk-inspect (issue 16): the image is hostile input (a sealed disk's header).
case_ 'IMG is required' disk-inspect
case_ 'No such file' disk-inspect $work/in/missing.img
case_ 'not a regular file or block device' disk-inspect /tmp
case_ 'not a regular file or block device' disk-inspect $work/in/fifo
case_ 'shorter than a sector' disk-inspect $work/in/empty
case_ 'not formatted' disk-inspect $work/in/disk.img
case_ 'bad magic' disk-inspect "$K"
case_ 'inconsistent sizes' disk-inspect $work/in/sd-geometry
case_ 'shorter than the volume' disk-inspect $work/in/sd-short
case_ 'unknown cipher' disk-inspect $work/in/sd-cipher

echo "hostile_cli: $cases cases, $failures failed ($POPEK)"
[ "$failures" = 0 ]
