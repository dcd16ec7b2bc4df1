#!/bin/sh
# Interop: Go's golang.org/x/mod/sumdb/tlog and note (Debian's golang-golang-x-mod-dev) verify
# what `tally tiles export` writes, before and after the log grows.
#   go_tlog.sh TALLY_BIN TLOGCHECK_GO SCRATCH
set -eu
tally=$1 src=$2 scratch=$3
mkdir -p "$scratch"
work=$(mktemp -d "$scratch/interop-XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE="$work/gocache" GOFLAGS= GOENV=off
go build -o "$work/tlogcheck" "$src"
"$tally" --dir "$work/log" simulate --miners 12 --days 3 --seed 3 -q >/dev/null
vkey=$("$tally" --dir "$work/log" key | tail -n 1)
"$tally" --dir "$work/log" tiles export --quiet "$work/out" >/dev/null
"$work/tlogcheck" "$work/out" "$vkey"
"$tally" --dir "$work/log" simulate --miners 12 --days 1 --seed 3 -q >/dev/null
"$tally" --dir "$work/log" tiles export --quiet "$work/out" >/dev/null
"$work/tlogcheck" "$work/out" "$vkey"
echo "1 passed, 0 failed"
