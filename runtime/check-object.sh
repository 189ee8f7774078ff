#!/bin/sh
# Fails if the runtime object cannot be placed at any address: any relocation but PC-relative (the
# rewriter resolves only PC32 and PLT32; absolute, GOT or TLS ones would need a loader),
# or symbols that are not hidden.
set -eu
obj=$1
bad=$(readelf -rW "$obj" | awk '$3 ~ /^R_X86_64_/ && $3 !~ /^R_X86_64_(PC32|PLT32)$/ {print $3}' | sort -u)
if [ -n "$bad" ]; then
	echo "runtime object has relocations it cannot have: $bad" >&2
	exit 1
fi
vis=$(readelf -sW "$obj" | awk '$5 == "GLOBAL" && $7 != "UND" && $6 != "HIDDEN" {print $8}')
if [ -n "$vis" ]; then
	echo "runtime symbols not hidden: $vis" >&2
	exit 1
fi
