#!/bin/sh
# Installs the Debian packages listed in scripts/debian-packages.txt that are
# missing. A quick no-op when all are present; needs root otherwise.
set -eu

list="$(dirname "$0")/debian-packages.txt"
wanted=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$list")

missing=""
for pkg in $wanted; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
	case "$status" in
	ii*) ;;
	*) missing="$missing $pkg" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages:$missing" >&2
	echo "install-deps: run 'sudo $0' (or install them with apt-get) and retry" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # the list is meant to split into words
apt-get install -y -q --no-install-recommends $missing
