#!/usr/bin/env bash
# Installs what `make test` needs beyond Go, on Debian, so the tests run on a
# fresh machine: chromium (the HTML report's and the attestazione's browser
# tests) and python3 (an integrity check of a journal, and the receipt
# reader docs/journal.md gives). As root it installs the missing ones with
# apt-get; otherwise it prints the one command to run and fails.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "test-deps: ${missing[*]} missing and this is not Debian: install ${missing[*]} with your package manager, then run make test again" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "test-deps: ${missing[*]} missing: run  sudo apt-get install ${missing[*]}  then make test again" >&2
	exit 1
fi

echo "test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
