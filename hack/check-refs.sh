#!/usr/bin/env bash
# check-refs: the repository must explain itself. Fails on
#   1. a reference to a document or path outside the repository (a sibling checkout, an absolute
#      path on a developer's machine, numbered sections of documents a clone does not have, bare
#      failure-mode numbers that do not say they are docs/failure-modes.md's);
#   2. a link in README.md, docs/*.md or charts/*/README.md to a repository file that does not
#      exist, and a backticked repository path in those docs that does not exist;
#   3. a test, fuzz target or benchmark named in backticks in those docs that does not exist.
# Every hit is printed as file:line: reason: text.
#
#   hack/check-refs.sh              check the repository (git ls-files)
#   hack/check-refs.sh --self-test  feed the checks known-bad and known-good lines
set -euo pipefail

# Patterns of references to things outside the repository (ERE, case-insensitive).
# Each entry: reason|pattern. They are assembled from pieces so that this file does not match
# its own patterns when it is scanned.
SH='shared'
SD='se''ed' # the design document's word, split so this file does not cite it
OUTSIDE=(
	"sibling checkout|(\.\./)+${SH}/"
	"outside document|(^|[^a-z0-9_./-])${SH}/(spec|background|seed|peers|hooks)/"
	"absolute path on a developer machine|(^|[^a-z0-9_.])/(work|farm)/[a-z0-9_.]"
	"numbered section of an outside document|\bseed[ ]*(section|sections|§)?[ ]*[0-9]"
	"outside document|\bseed[ ]*(§|:)"
	"outside document|\bLLD\b"
	"outside document|\bphase[- ]?2 (design|doc|lld)"
)
# A failure-mode id (F1..F17, A1..A14, O1) is fine only on a line that names docs/failure-modes.md
# (or inside that file).
FM_ID='(^|[^A-Za-z0-9_./-])(F1[0-7]|F[1-9]|A1[0-4]|A[1-9]|O1)([^A-Za-z0-9_-]|$)'
FM_CONTEXT='failure-modes\.md'

# Files not scanned: binaries, lock files and generated dependency lists.
SKIP='\.(png|jpg|ico|gz|tgz|sum)$|package-lock\.json$|/vendor/|\.min\.js$|socket\.io[^/]*\.js$'

# check_outside ROOT FILE...: prints file:line: reason: text for every outside reference.
# One grep per pattern over all files (-I skips binaries).
check_outside() {
	local root=$1
	shift
	local entry reason pat
	mapfile -t files < <(printf '%s\n' "$@" | grep -vE "$SKIP" | while read -r f; do [[ -f $root/$f ]] && echo "$f"; done)
	((${#files[@]})) || return 0
	for entry in "${OUTSIDE[@]}"; do
		reason=${entry%%|*}
		pat=${entry#*|}
		(cd "$root" && grep -HnIEi -- "$pat" "${files[@]}" | sed -E "s#^([^:]*:[0-9]*):#\1: $reason:#") || true
	done
	# Case-sensitive: ids are upper case.
	(cd "$root" && grep -HnIE -- "$FM_ID" "${files[@]}" | grep -v '^docs/failure-modes\.md:' |
		grep -vE -- "$FM_CONTEXT" | sed -E 's#^([^:]*:[0-9]*):#\1: failure-mode id without docs/failure-modes.md:#') || true
}

# Top-level directories whose paths, when written in backticks in a doc, must exist.
REPO_DIRS='(api|cmd|charts|config|controllers|docs|hack|internal|signaling|test)'

# check_links ROOT FILE...: markdown links and backticked repository paths must resolve.
check_links() {
	local root=$1
	shift
	local f n target path top
	top=$(realpath -m "$root")
	(($#)) || return 0
	# Markdown links: [text](target). External links and anchors are not checked.
	{ (cd "$root" && grep -HnoE '\]\([^)]+\)' "$@") || true; } | while IFS=: read -r f n target; do
		target=${target#](}
		target=${target%)}
		case "$target" in
		http://* | https://* | mailto:* | \#*) continue ;;
		esac
		target=${target%%#*}
		target=${target%% *}
		[[ -z $target ]] && continue
		path=$(realpath -m "$root/$(dirname "$f")/$target")
		if [[ $path != "$top"/* ]]; then
			echo "$f:$n: link leaves the repository: $target"
		elif [[ ! -e $path ]]; then
			echo "$f:$n: link to a missing file: $target"
		fi
	done
	# Backticked repository paths: `signaling/chat/flusher.go`, `hack/mk/` ...
	{ (cd "$root" && grep -HnoE "\`$REPO_DIRS/[^\` ]*\`" "$@") || true; } | while IFS=: read -r f n target; do
		target=${target//\`/}
		# Patterns, placeholders and globs are descriptions, not paths.
		[[ $target == *[\<\>\*\{\}…\$]* ]] && continue
		[[ -e $root/$target ]] || echo "$f:$n: path does not exist: $target"
	done || true
}

# check_test_names ROOT FILE...: a test, fuzz target or benchmark named in backticks in a doc
# (`TestChatRedisRestartKeepsAckedMessages`) must exist, so a rename cannot leave the docs behind.
check_test_names() {
	local root=$1
	shift
	(($#)) || return 0
	local known
	known=$(cd "$root" && git grep --untracked -hoE '^func (Test|Fuzz|Benchmark)[A-Za-z0-9_]+' -- '*_test.go' 2>/dev/null | sed 's/^func //' | sort -u || true)
	{ (cd "$root" && grep -HnoE '`(Test|Fuzz|Benchmark)[A-Z][A-Za-z0-9_]*`' "$@") || true; } | while IFS=: read -r f n name; do
		name=${name//\`/}
		grep -qxF -- "$name" <<<"$known" || echo "$f:$n: no such test: $name"
	done
}

doc_files() {
	git -C "$1" ls-files -co --exclude-standard -- README.md 'docs/*.md' 'charts/*/README.md'
}

run_checks() {
	local root=$1
	mapfile -t files < <(git -C "$root" ls-files -co --exclude-standard | grep -v '^hack/check-refs.sh$')
	mapfile -t docs < <(doc_files "$root")
	{
		check_outside "$root" "${files[@]}"
		check_links "$root" "${docs[@]}"
		check_test_names "$root" "${docs[@]}"
	}
}

self_test() {
	local tmp
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	git -C "$tmp" init -q
	mkdir -p "$tmp/docs" "$tmp/signaling/chat"
	echo 'package chat' >"$tmp/signaling/chat/flusher.go"
	printf 'package chat\n\nfunc TestFlushes(t *testing.T) {}\n' >"$tmp/signaling/chat/flusher_test.go"
	local d='.''.' s="$SH"
	# Known-bad lines, one per file so that each must be caught on its own.
	local bad=(
		"// contract in $d/$s/spec/backends.md"
		"// see $s/spec/protocol.md"
		"See /wo""rk/$s/background/notes.md"
		"// Room mode ($SD 7.2)"
		"// default 3, $SD: \"fewer than 4\""
		"S${SD:1} sections 4 and 7"
		"// as the LLD says"
		"// lost messages (failure mode F6)"
		"// caught here (F2, F4)"
		"[spec]($d/$d/$s/spec/protocol.md)"
		"[missing](docs/nothing-here.md)"
		"code in \`signaling/chat/nothing.go\`"
		"covered by \`TestNothingLikeThis\`"
	)
	local good=(
		"// contract in docs/backends.md §Chat Service"
		"// lost messages (docs/failure-modes.md F6)"
		"// Addrs are the seed addresses."
		"// a random seed for the jitter"
		"[chat](docs/chat.md) and [upstream](https://example.com/$s/spec/x.md)"
		"code in \`signaling/chat/flusher.go\` and \`signaling/<pkg>/*.go\`"
		"covered by \`TestFlushes\`"
		"// (F) Fahrenheit, F key, FOO1"
		"nonroot:x:65532:65532::/home/nonroot:/sbin/nologin inside the image, and /tmp"
	)
	echo '# chat' >"$tmp/docs/chat.md"
	local i=0 line out fails=0
	for line in "${bad[@]}"; do
		i=$((i + 1))
		rm -f "$tmp"/docs/t*.md "$tmp"/t*.go
		if [[ $line == \[* || $line == code* || $line == covered* ]]; then
			printf '%s\n' "$line" >"$tmp/docs/t$i.md"
		else
			printf '%s\n' "$line" >"$tmp/t$i.go"
		fi
		out=$(run_checks "$tmp")
		if [[ -z $out ]]; then
			echo "self-test: NOT caught: $line" >&2
			fails=$((fails + 1))
		fi
	done
	i=0
	for line in "${good[@]}"; do
		i=$((i + 1))
		rm -f "$tmp"/docs/t*.md "$tmp"/t*.go
		printf '%s\n' "$line" >"$tmp/t$i.go"
		printf '%s\n' "$line" >"$tmp/README.md"
		out=$(run_checks "$tmp")
		if [[ -n $out ]]; then
			echo "self-test: false alarm on: $line" >&2
			echo "$out" >&2
			fails=$((fails + 1))
		fi
	done
	if ((fails > 0)); then
		echo "check-refs self-test: $fails failed" >&2
		return 1
	fi
	echo "check-refs self-test: ${#bad[@]} bad lines caught, ${#good[@]} good lines passed"
}

ROOT=$(git rev-parse --show-toplevel)
if [[ ${1:-} == --self-test ]]; then
	self_test
	exit
fi
out=$(run_checks "$ROOT")
if [[ -n $out ]]; then
	echo "$out"
	echo "check-refs: the lines above cite something a clone of this repository does not have (or no longer has);" >&2
	echo "cite the repository's own docs instead (docs/protocol.md §…, docs/backends.md §…, docs/failure-modes.md F…)." >&2
	exit 1
fi
echo "check-refs: ok"
