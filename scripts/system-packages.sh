#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages that `make` targets need, or says exactly
# what to run. Usage: scripts/system-packages.sh COMMAND... where each COMMAND is
# one this script knows (bwrap, chromium, npm). Nothing is done for commands
# already on PATH.
set -euo pipefail

declare -A package_of=(
  [bwrap]="bubblewrap"   # sandbox for student kernels (grading)
  [chromium]="chromium"  # headless browser over the built book (tests/browser.py)
  [npm]="nodejs npm"     # fetches MathJax for the offline book
)

missing=()
for command in "$@"; do
  if [[ -z "${package_of[$command]+set}" ]]; then
    echo "system-packages.sh: unknown command '$command' (known: ${!package_of[*]})" >&2
    exit 2
  fi
  command -v "$command" >/dev/null 2>&1 || missing+=(${package_of[$command]})
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

install=(apt-get install -y -qq --no-install-recommends "${missing[@]}")
if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${install[@]}"
  exit 0
fi
{
  echo "Missing system packages: ${missing[*]}"
  echo "Install them, then run make again:"
  echo "    sudo apt-get update && sudo ${install[*]}"
} >&2
exit 1
