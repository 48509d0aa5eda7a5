#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench-compare [REV=HEAD~1] [BENCHES="bench_pipeline bench_xbzrle"]
#                    [ROUNDS=5] [THRESHOLD=5]
#
# scripts/bench-compare.sh B REV [BENCH...]: this tree's benchmarks (with
# any uncommitted change) against REV's, in the same run.  REV is checked
# out into a temporary git worktree, removed at the end whatever happens;
# only the benchmark programs are built, REV's in a temporary directory
# beside it and this tree's in B.  Then the old and the new program of each benchmark run in
# interleaved rounds, old new new old old new ... (ABBA, so that a machine
# that speeds up or slows down during the run favours neither), ROUNDS
# rounds each, and for each row both versions' --json reports (matched by
# the fields that name it), every throughput figure is compared: the median
# of the rounds' new/old ratios, with their min..max beside it, and a
# verdict per benchmark.  Rows only one version reports are listed.
#
# Throughput: a field named *_per_s or *-per-sec, and total-time-ms (as
# its inverse: old/new time).  A figure is slower when its median ratio is
# below 1 - THRESHOLD% and every run of the new program slower than every
# run of the old one (by chance alone: 1 in 252 for 5 runs each); faster
# likewise.
#
# The benchmarks: bench_pipeline and bench_xbzrle (in one process,
# seconds a round: bench_xbzrle --quick about 12 s, 40 s against a REV
# without --quick); any other by name (bench_migrate, bench_dirty and
# bench_converge need /dev/kvm and minutes a round, bench_idle /dev/kvm
# and seconds).
#
# Exit: 0 no row slower, 1 a row slower (a regression), 2 nothing could be
# compared: REV is not a commit, a benchmark is missing in it, it does not
# build, a program failed or was skipped, no row in common.
set -eu

die() {
	echo "bench-compare: $*" >&2
	exit 2
}

[ $# -ge 2 ] || die "usage: $0 B REV [BENCH...]"
B=$1 REV=$2
shift 2
ROUNDS=${ROUNDS:-5}
THRESHOLD=${THRESHOLD:-5}
case $ROUNDS in '' | *[!0-9]* | 0) die "ROUNDS=$ROUNDS: a number of rounds, at least 1" ;; esac
case $THRESHOLD in '' | *[!0-9.]*) die "THRESHOLD=$THRESHOLD: a percentage" ;; esac
[ -d tools/bench ] || die "run from the top of the kvmig tree"

# A short round of each benchmark: the same arguments for both versions, so
# only options every version of the program knows (bench_pipeline ignores
# an option it does not know; bench_xbzrle refuses one, so --quick only if
# REV's knows it too).
short_args() {
	case $1 in
	# a 32 MiB corpus, not 128 MiB, and 3 rounds of its own designs, not 9
	bench_pipeline) echo "-m 32 -r 3" ;;
	bench_xbzrle)	# 15 ms, not 60, an implementation a round: about 12 s
		if git show "$rev:tools/bench/bench_xbzrle.c" | grep -q '"quick"'; then
			echo "--quick"
		fi ;;
	*) echo "" ;;
	esac
}

rev=$(git rev-parse --verify --quiet "$REV^{commit}") ||
	die "REV=$REV is not a commit"
desc=$(git log -1 --format='%h %<(60,trunc)%s' "$rev" | sed 's/ *$//')

benches=
missing=
[ $# -gt 0 ] || set -- bench_pipeline bench_xbzrle
for b in "$@"; do
	b=bench_${b#bench_}
	[ -f "tools/bench/$b.c" ] ||
		die "no benchmark $b in this tree (tools/bench/: $(cd tools/bench && echo bench_*.c | sed 's/\.c//g'))"
	git cat-file -e "$rev:tools/bench/$b.c" 2>/dev/null || missing="$missing $b"
	benches="$benches $b"
done
[ -z "$missing" ] ||
	die "not in REV ($desc):$missing; nothing compared"

# The benchmarks that run guests start kvmig-vm and kvmig from their own
# bin/ directory (test_bin()): build those too.
targets() {
	for b in $benches; do
		echo "$1/bin/$b"
		if grep -q test_require_kvm "tools/bench/$b.c"; then
			echo "$1/bin/kvmig-vm $1/bin/kvmig"
		fi
	done | sort -u
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvmig-bench-compare.XXXXXX")
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ -d "$tmp/src" ]; then
		git worktree remove --force "$tmp/src" ||
			echo "bench-compare: could not remove the worktree $tmp/src (git worktree prune)" >&2
	fi
	rm -rf "$tmp"
}
# A signal kills the shell without its EXIT trap: turn each into an exit
# (a reader that stops reading, "| head", sends SIGPIPE).
trap cleanup EXIT
trap 'echo "bench-compare: interrupted" >&2; exit 130' INT
trap 'echo "bench-compare: terminated" >&2; exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

echo "bench-compare: this tree against REV=$REV ($desc)"
git worktree add --detach --quiet "$tmp/src" "$rev" >"$tmp/worktree.log" 2>&1 || {
	cat "$tmp/worktree.log" >&2
	die "git worktree add of $REV failed"
}
echo "  building the benchmarks of $REV and of this tree"
# shellcheck disable=SC2046
make -C "$tmp/src" --no-print-directory B="$tmp/build" \
	$(targets "$tmp/build") >"$tmp/build-old.log" 2>&1 || {
	tail -n 30 "$tmp/build-old.log" >&2
	die "REV=$REV ($desc) does not build its benchmarks; nothing compared"
}
# shellcheck disable=SC2046
make --no-print-directory B="$B" $(targets "$B") >"$tmp/build-new.log" 2>&1 || {
	tail -n 30 "$tmp/build-new.log" >&2
	die "this tree does not build its benchmarks; nothing compared"
}

# run WHICH BENCH ROUND: one run of the old or the new program, its table
# in a log and its rows in $tmp/BENCH.WHICH.ROUND.json
run() {
	if [ "$1" = old ]; then
		bin=$tmp/build/bin/$2 who="$2 of REV=$REV"
	else
		bin=$B/bin/$2 who="$2 of this tree"
	fi
	out=$tmp/$2.$1.$3
	rc=0
	# shellcheck disable=SC2046
	"$bin" $(short_args "$2") --json "$out.json" >"$out.log" 2>&1 || rc=$?
	[ $rc -eq 0 ] && [ -s "$out.json" ] && return 0
	tail -n 20 "$out.log" >&2
	case $rc in
	0) die "$who wrote no JSON in round $3: nothing compared" ;;
	4) die "$who skipped (exit 4) in round $3: nothing compared" ;;
	*) die "$who failed (exit $rc) in round $3: nothing compared" ;;
	esac
}

status=0
regressed=
for b in $benches; do
	echo
	echo "== $b$(short_args "$b" | sed 's/^./ &/'): old and new, $ROUNDS round(s) in ABBA order"
	i=1
	while [ "$i" -le "$ROUNDS" ]; do
		if [ $((i % 2)) -eq 1 ]; then order="old new"; else order="new old"; fi
		printf '  round %d/%d: %s\n' "$i" "$ROUNDS" "$order"
		for w in $order; do
			run "$w" "$b" "$i"
		done
		i=$((i + 1))
	done
	rc=0
	python3 - "$b" "$ROUNDS" "$THRESHOLD" "$tmp" "$REV" <<'EOF' || rc=$?
import json, math, statistics, sys

bench, rounds, threshold, tmp, rev = sys.argv[1:6]
rounds, threshold = int(rounds), float(threshold) / 100

# The fields that name a row in the benchmarks' --json (tools/bench/*.c);
# the others are measurements.
KEYS = ("table", "design", "baseline", "policy", "backend", "run", "set",
        "pairs", "encoder", "test", "codec", "workers", "mem")

def speed(metric, v):
    """The throughput a field stands for, higher is faster; None if none."""
    if metric.endswith(("_per_s", "-per-sec")):
        return v
    if metric == "total-time-ms":
        return 1 / v if v else 0.0
    return None

def load(which, i):
    """{(row, metric): value} of one run, in the order it wrote them."""
    with open(f"{tmp}/{bench}.{which}.{i}.json") as f:
        rows = json.load(f)
    out, seen = {}, {}
    for r in rows if isinstance(rows, list) else [rows]:
        name = ", ".join(f"{k}={v}" if isinstance(v, int) else str(v)
                         for k, v in r.items() if k in KEYS) or "(unnamed)"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name += f" #{seen[name]}"
        for m, v in r.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and \
               m not in KEYS and speed(m, v) is not None:
                out[(name, m)] = v
    return out

old = [load("old", i) for i in range(1, rounds + 1)]
new = [load("new", i) for i in range(1, rounds + 1)]
in_old = {k: None for run in old for k in run}
in_new = {k: None for run in new for k in run}

def fmt(v):
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.3f}"

lines, slower, faster, meds = [], [], [], []
for k in in_new:
    if k not in in_old:
        continue
    ratios = [speed(k[1], n[k]) / speed(k[1], o[k]) for o, n in zip(old, new)
              if k in o and k in n and speed(k[1], o[k]) and speed(k[1], n[k])]
    ov = statistics.median(o[k] for o in old if k in o)
    nv = statistics.median(n[k] for n in new if k in n)
    if not ratios:
        lines.append((k[0], k[1], fmt(ov), fmt(nv), "n/a", "(a zero)", ""))
        continue
    med, lo, hi = statistics.median(ratios), min(ratios), max(ratios)
    meds.append(med)
    # a difference the machine's noise does not explain: beyond the
    # threshold, and every run of one version faster than every run of the
    # other (were both the same: 1 chance in comb(2 * rounds, rounds), 252
    # for 5 rounds)
    olds = [speed(k[1], o[k]) for o in old if k in o]
    news = [speed(k[1], n[k]) for n in new if k in n]
    mark = ""
    if med < 1 - threshold and max(news) < min(olds):
        mark = "slower"
        slower.append(f"{k[0]} {k[1]} {med:.2f}x ({lo:.2f}..{hi:.2f})")
    elif med > 1 + threshold and min(news) > max(olds):
        mark = "faster"
        faster.append(k)
    lines.append((k[0], k[1], fmt(ov), fmt(nv), f"{med:.2f}x",
                  f"{lo:.2f}..{hi:.2f}", mark))

print(f"  old, new: medians of {rounds} run{'s' if rounds > 1 else ''}; new/old: "
      f"throughput, the median of the rounds' ratios; min..max: their spread;\n"
      f"  slower, faster: beyond {threshold:.0%}, and every run of one version "
      f"beats every run of the other (by chance: 1 in {math.comb(2 * rounds, rounds)})")
hdr = ("row", "metric", "old", "new", "new/old", "min..max", "")
w = [max(len(l[c]) for l in lines + [hdr]) for c in range(6)]
for l in [hdr] + lines:
    print(f"  {l[0]:<{w[0]}}  {l[1]:<{w[1]}}  {l[2]:>{w[2]}}  {l[3]:>{w[3]}}  "
          f"{l[4]:>{w[4]}}  {l[5]:>{w[5]}}  {l[6]}".rstrip())
for k in in_old:
    if k not in in_new:
        print(f"  only in REV={rev}: {k[0]}  {k[1]}")
for k in in_new:
    if k not in in_old:
        print(f"  only in this tree: {k[0]}  {k[1]}")

if not meds:
    print(f"{bench}: no throughput figure both versions report: nothing compared")
    sys.exit(2)
summary = (f"{len(meds)} figures, {len(slower)} slower, {len(faster)} faster, "
           f"median new/old {statistics.median(meds):.2f}x "
           f"({min(meds):.2f}x..{max(meds):.2f}x)")
if slower:
    print(f"{bench}: REGRESSION against REV={rev}: {summary}")
    for s in slower:
        print(f"  slower: {s}")
    sys.exit(1)
print(f"{bench}: no regression against REV={rev}: {summary}")
EOF
	case $rc in
	0) ;;
	1) status=1 regressed="$regressed $b" ;;
	*) die "$b: nothing compared" ;;
	esac
done

echo
if [ $status -ne 0 ]; then
	echo "bench-compare: slower than REV=$REV ($desc):$regressed"
else
	echo "bench-compare: no benchmark slower than REV=$REV ($desc):$benches"
fi
exit $status
