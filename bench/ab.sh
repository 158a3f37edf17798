#!/usr/bin/env bash
# bench/ab.sh: time two shell commands in turn, A B A B ..., and print per side the min, median
# and max wall seconds (and the median peak RSS when GNU time is at /usr/bin/time), then the
# median of the pair-by-pair ratios A/B: pairing keeps the ratio meaningful when the machine's
# speed drifts during the call. Whole-process figures: each run is `bash -c CMD`, timed from
# outside just before its start and just after it exits, start-up included.
#
#   bench/ab.sh [-n ROUNDS] [-w WARMUP] [-s SETUP] [-t SECONDS] [-l LOG] 'COMMAND A' 'COMMAND B'
#
#   -n ROUNDS   timed pairs (default 5)
#   -w WARMUP   untimed pairs first (default 1; 0 for none)
#   -s SETUP    a shell command run before every run of A and of B (warm-up included), untimed;
#               a setup that fails stops the call
#   -t SECONDS  kill a run still going after SECONDS (coreutils `timeout`); it counts as failed
#   -l LOG      append every run's output (both streams) to LOG instead of discarding it
#
# Each command is one string run by `bash -c` (so pipes, `cd X &&`, `VAR=1 cmd` all work; a
# single plain command is exec'd by bash, no extra process). Its stdin is /dev/null and its
# stdout is thrown away; the environment is the caller's (`HOME=/x bench/ab.sh ...` sets it for
# both sides). Peak RSS is the largest single process the command waited for (GNU time's %M, from
# the kernel's accounting of the finished child), not a sum; without /usr/bin/time, or with
# AB_RSS=0, it is left out. The wall clock is real time: bash's $EPOCHREALTIME (bash 5), else
# `date +%s%N` (a fork on each side of a run, a few ms on a loaded machine). What the harness
# itself adds to a run (bash start-up, GNU time, the clock) is printed first as the "floor": the
# median of 3 runs of the empty command `:`; it is in both sides' figures and pulls A/B toward 1.
#
# A run that exits non-zero is reported (the first one of each side with the end of its stderr);
# the figures still cover every run, and the call's exit status is then 1 (2 for bad arguments).
#
# Sourced (`. bench/ab.sh`), it only defines the function `ab` with the same arguments.

ab() {
  local rounds=5 warmup=1 setup='' limit='' log='' opt OPTIND=1
  while getopts 'n:w:s:t:l:h' opt; do
    case $opt in
      n) rounds=$OPTARG ;;
      w) warmup=$OPTARG ;;
      s) setup=$OPTARG ;;
      t) limit=$OPTARG ;;
      l) log=$OPTARG ;;
      h) sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; return 0 ;;
      *) echo "usage: ab [-n ROUNDS] [-w WARMUP] [-s SETUP] [-t SECONDS] [-l LOG] 'COMMAND A' 'COMMAND B'" >&2; return 2 ;;
    esac
  done
  shift $((OPTIND - 1))
  if [ $# -ne 2 ]; then
    echo "ab: two commands are needed, A and B, each one string (got $#)" >&2; return 2
  fi
  if ! [[ $rounds =~ ^[1-9][0-9]*$ && $warmup =~ ^[0-9]+$ ]]; then
    echo "ab: -n must be a positive integer and -w a non-negative one" >&2; return 2
  fi
  if [ -n "$limit" ] && ! [[ $limit =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    echo "ab: -t takes seconds" >&2; return 2
  fi
  local cmd_a=$1 cmd_b=$2
  local rss=
  if [ "${AB_RSS:-1}" != 0 ] && [ -x /usr/bin/time ] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
    rss=1  # GNU time (Debian's `time` package); a BSD or busybox time lacks -f/-o
  fi
  local tmp
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/ab.XXXXXX") || return 1
  local -a wall_a=() wall_b=() rss_a=() rss_b=()
  local i side cmd t0 t1 status out fail_a=0 fail_b=0

  # run_one SIDE CMD: one run; sets t1 - t0 (ns) in $ns, the peak RSS (KiB) in $kib, the status.
  local ns kib now r
  run_one() {
    local -a pre=()
    [ -n "$rss" ] && pre+=(/usr/bin/time -f %M -o "$tmp/rss")
    [ -n "$limit" ] && pre+=(timeout -k 5 "$limit")
    if [ -n "$setup" ] && [ "$1" != floor ]; then
      bash -c "$setup" </dev/null >/dev/null 2>"$tmp/setup.err" || {
        echo "ab: setup failed before a run of $1: $setup" >&2; tail -n 5 "$tmp/setup.err" >&2; return 100; }
    fi
    if [ -n "$log" ] && [ "$1" != floor ]; then
      echo "=== $1: $2" >>"$log"
      out=$log
    else
      out=/dev/null
    fi
    : >"$tmp/err"
    ab_now; t0=$now
    "${pre[@]}" bash -c "$2" </dev/null >>"$out" 2>"$tmp/err" && status=0 || status=$?
    ab_now; t1=$now
    ns=$((t1 - t0))
    kib=
    if [ -n "$rss" ]; then kib=$(tail -n 1 "$tmp/rss" 2>/dev/null); [[ $kib =~ ^[0-9]+$ ]] || kib=; fi
    [ "$out" != /dev/null ] && cat "$tmp/err" >>"$log"
    # (GNU time writes "Command exited with non-zero status N" to the -o file, not to stderr)
    if [ "$status" -ne 0 ]; then
      if [ "$1" = A ]; then fail_a=$((fail_a + 1)); i=$fail_a; else fail_b=$((fail_b + 1)); i=$fail_b; fi
      if [ "$i" = 1 ]; then
        echo "ab: $1 exited with status $status$([ "$status" = 124 ] && [ -n "$limit" ] && echo ' (killed at the -t bound)'): $2" >&2
        tail -n 5 "$tmp/err" >&2
      fi
    fi
    return 0
  }

  # the floor: the empty command through the same wrapper
  local -a floor=()
  for r in 1 2 3; do
    run_one floor : || { rm -rf "$tmp"; unset -f run_one; return 1; }
    floor+=("$ns")
  done
  fail_a=0 fail_b=0

  local total=$((warmup + rounds))
  for ((r = 1; r <= total; r++)); do
    for side in A B; do
      if [ "$side" = A ]; then cmd=$cmd_a; else cmd=$cmd_b; fi
      run_one "$side" "$cmd" || { rm -rf "$tmp"; unset -f run_one; return 1; }
      ((r <= warmup)) && continue
      if [ "$side" = A ]; then wall_a+=("$ns"); rss_a+=("$kib")
      else wall_b+=("$ns"); rss_b+=("$kib"); fi
    done
  done
  rm -rf "$tmp"
  unset -f run_one

  # Figures: awk reads "A|B ns kib" lines in run order.
  {
    for ((i = 0; i < rounds; i++)); do
      echo "A ${wall_a[i]} ${rss_a[i]:--}"
      echo "B ${wall_b[i]} ${rss_b[i]:--}"
    done
  } | awk -v rounds="$rounds" -v warmup="$warmup" -v a="$cmd_a" -v b="$cmd_b" \
      -v floor="$(printf '%s\n' "${floor[@]}" | sort -n | sed -n 2p)" -v fa="$fail_a" -v fb="$fail_b" '
    function sort(arr, n,   i, j, t) {  # insertion sort, n is small
      for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]; arr[j + 1] = t }
    }
    function median(arr, n) { sort(arr, n); return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2 }
    $1 == "A" { na++; wa[na] = $2 / 1e9; sa[na] = wa[na]; if ($3 != "-") { ka[++nka] = $3 } }
    $1 == "B" { nb++; wb[nb] = $2 / 1e9; sb[nb] = wb[nb]; if ($3 != "-") { kb[++nkb] = $3 }
                ratio[nb] = wb[nb] > 0 ? wa[nb] / wb[nb] : 0 }
    END {
      printf "A: %s\nB: %s\n", a, b
      printf "%d rounds in turns (A B A B ...) after %d untimed, whole-process wall seconds (floor %.3f):\n", rounds, warmup, floor / 1e9
      ma = median(sa, na); mb = median(sb, nb)
      printf "  A  min %.3f  median %.3f  max %.3f", sa[1], ma, sa[na]
      if (nka) printf "   peak RSS median %.1f MiB", median(ka, nka) / 1024
      printf "\n"
      printf "  B  min %.3f  median %.3f  max %.3f", sb[1], mb, sb[nb]
      if (nkb) printf "   peak RSS median %.1f MiB", median(kb, nkb) / 1024
      printf "\n"
      line = ""
      for (i = 1; i <= nb; i++) line = line sprintf("%s%.3f", i > 1 ? " " : "", ratio[i])
      printf "  A/B pair by pair: median %.3f  (%s)\n", median(ratio, nb), line
      if (fa + fb) printf "  FAILED runs (non-zero exit, counted in the figures): A %d, B %d of %d each\n", fa, fb, rounds + warmup
    }'
  [ "$fail_a" = 0 ] && [ "$fail_b" = 0 ]
}

# ab_now: the real-time clock in nanoseconds, into $now
if [ -n "${EPOCHREALTIME:-}" ]; then
  ab_now() { local t=${EPOCHREALTIME/[.,]/}; now=$((10#$t * 1000)); }
else
  ab_now() { now=$(date +%s%N); }
fi

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  ab "$@"
fi
