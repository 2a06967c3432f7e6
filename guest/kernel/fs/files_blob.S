/* The boot image's file table (build/guest/popek-os.files), linked into the kernel so that
 * `popek run --kernel popek-os.elf` needs nothing else. A PVH module overrides it. */
        .section .rodata
        .balign 16
        .globl packed_files_start, packed_files_end
packed_files_start:
        .incbin POS_FILES_PATH
packed_files_end:
        .section .note.GNU-stack, "", @progbits
