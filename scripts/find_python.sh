#!/usr/bin/env bash
# Print the path of a working Python interpreter of the given minor version.
#
#   scripts/find_python.sh 3.12
#
# pyenv's shims answer `command -v python3.12` even when that version is not
# selected (and then fail to run), so each candidate is actually run.
set -euo pipefail

want="${1:?usage: find_python.sh 3.12}"
candidates=("python$want")
if command -v pyenv >/dev/null 2>&1; then
    root="$(pyenv root)"
    for dir in "$root"/versions/"$want".*/bin; do
        [[ -x "$dir/python$want" ]] && candidates+=("$dir/python$want")
    done
fi
candidates+=("/usr/bin/python$want" "/usr/local/bin/python$want")
for candidate in "${candidates[@]}"; do
    if "$candidate" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$want'.split('.')))" \
        >/dev/null 2>&1; then
        command -v "$candidate" || echo "$candidate"
        exit 0
    fi
done
echo "error: no working python$want found (tried: ${candidates[*]})" >&2
exit 1
