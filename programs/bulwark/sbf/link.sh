#!/usr/bin/env bash
# Linker for the SBF build. Cargo links every crate type a dependency declares, and some
# Solana crates declare `cdylib`; only Bulwark's own shared object is ever deployed, so the
# others get an empty placeholder instead of a link that cannot succeed for a library.
set -o pipefail
out=""
prev=""
for arg in "$@"; do
    if [ "$prev" = "-o" ]; then out="$arg"; fi
    prev="$arg"
done
case "$out" in
    */libbulwark.so)
        # The LLVM proxy first tries the toolchain's linker-script stub of libLLVM, then finds
        # the real library on LD_LIBRARY_PATH; its note about the stub is noise.
        sbpf-linker "$@" 2> >(grep -v 'unable to open LLVM shared lib' >&2)
        ;;
    *) : > "$out" ;;
esac
