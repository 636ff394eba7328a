#!/usr/bin/env bash
# Checks that `make tools` decides what to rebuild from the content of each tool's inputs, not
# their mtimes: a fresh clone (every file new) next to a kept bin/ rebuilds nothing, and a changed
# go.mod rebuilds exactly its tool. Works on a copy of the build files with placeholder binaries
# and only dry-runs make (make -n), so it builds nothing and takes seconds.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$repo"
# What the makefiles read: themselves, the tool modules, the chart's version, the npm lock files.
git ls-files -co --exclude-standard Makefile hack/mk hack/tools hack/imagebuild \
	charts/switchboard/Chart.yaml test/node/package-lock.json test/browser/package-lock.json |
	while read -r f; do [ -f "$f" ] && echo "$f"; done |
	tar -cf - -T - | tar -xf - -C "$work"
cd "$work"

dry_run() { make -n --no-print-directory tools 2>&1; }
builds() { grep -E '(^|&& )go build' || true; }
fail() { echo "check-tool-stamps: FAIL: $*" >&2; exit 1; }

# Placeholder binaries from long ago; the first dry run creates the stamps, newer than them.
tool_files=$(make -s --no-print-directory print-tool-files)
[ -n "$tool_files" ] || fail "make print-tool-files listed nothing"
for f in $tool_files; do mkdir -p "$(dirname "$f")"; touch -d '2020-01-01' "$f"; done
n_tools=$(echo "$tool_files" | wc -w)
first=$(dry_run | builds)
[ -n "$first" ] || fail "with no stamps yet, make tools would build nothing:
$(dry_run)"

# Tools built after their stamps; then every input gets a new mtime, as in a fresh clone.
sleep 1
for f in $tool_files; do touch "$f"; done
sleep 1
find hack charts test Makefile -type f -exec touch {} +
again=$(dry_run | builds)
[ -z "$again" ] || fail "a fresh clone with a kept bin/ would rebuild:
$again"

# A changed go.mod rebuilds its tool and nothing else.
echo '// changed' >> hack/tools/staticcheck/go.mod
changed=$(dry_run | builds)
echo "$changed" | grep -q 'honnef.co/go/tools/cmd/staticcheck' || fail "a changed go.mod did not rebuild staticcheck:
$changed"
[ "$(echo "$changed" | wc -l)" -eq 1 ] || fail "a changed staticcheck go.mod rebuilds more than staticcheck:
$changed"

echo "check-tool-stamps: ok ($n_tools tool files; a fresh clone rebuilds none, a changed go.mod only its tool)"
