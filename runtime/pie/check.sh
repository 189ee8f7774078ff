#!/bin/sh
# Fails unless the restorer object can run wherever ckpt/restore.c copies it: it must define its
# entry and end (rt_restorer_code_start, rt_restorer_code_end), and have no relocation of any kind
# (even a PC-relative one would reach outside the copied bytes).
set -eu
obj=$1
for sym in rt_restorer_code_start rt_restorer_code_end; do
	if ! readelf -sW "$obj" | awk -v s="$sym" '$8 == s && $7 != "UND" {found=1} END {exit !found}'; then
		echo "pie restorer: $sym is missing" >&2
		exit 1
	fi
done
rel=$(readelf -rW "$obj" | awk '$3 ~ /^R_X86_64_/ {print $3}' | sort -u)
if [ -n "$rel" ]; then
	echo "pie restorer has relocations it cannot have: $rel" >&2
	exit 1
fi
