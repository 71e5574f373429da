#!/usr/bin/env bash
# Runs every libFuzzer target (or the ones named) for a bounded time, one after the other.
#
#   fuzz/run.sh [--build] [seconds-per-target] [target...]     (default: 30 s, every target)
#
# Each target starts from a temporary copy of fuzz/corpus/<target>/ (new inputs it finds are
# thrown away; see fuzz/README.md to keep them) and first runs the checked-in reproducers in
# fuzz/regressions/<target>/, so a fixed bug must stay fixed. A crash, broken invariant, leak,
# timeout or out-of-memory is written to build/fuzz/crashes/<target>/ (re-run it with
# build/fuzz/fuzz/<target> <file>) and makes the script exit non-zero after the other targets
# ran. One summary line per target: executions, exec/s, cov (edges) and ft (features).
# --build installs what is missing, then configures and builds the fuzz preset; without it the
# binaries must exist. Targets run one after the other with one job each: the machine is shared.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$repo/build/fuzz"
all_targets=(fuzz_frame fuzz_engine fuzz_server_session fuzz_room_index fuzz_jwt fuzz_ws_reader)

if [[ "${1:-}" == "--build" ]]; then
  shift
  source "$repo/scripts/deps.sh"
  # libclang-rt-14-dev provides libFuzzer and the sanitizer runtimes for clang-14.
  parley_ensure_packages "${parley_packages[@]}" clang-14 libclang-rt-14-dev
  (cd "$repo" && cmake --preset fuzz >/dev/null && cmake --build --preset fuzz -j2)
fi
seconds=${1:-30}
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: fuzz/run.sh [--build] [seconds-per-target] [target...]" >&2
  exit 2
fi
shift $(($# > 0 ? 1 : 0))
targets=("$@")
((${#targets[@]} > 0)) || targets=("${all_targets[@]}")

work=$(mktemp -d "${TMPDIR:-/tmp}/parley-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

failed=()
for target in "${targets[@]}"; do
  binary="$build/fuzz/$target"
  if [[ ! -x "$binary" ]]; then
    echo "fuzz/run.sh: $binary is missing: run with --build, or" \
      "cmake --preset fuzz && cmake --build --preset fuzz" >&2
    exit 2
  fi
  corpus="$work/$target/corpus"
  mkdir -p "$corpus"
  cp -r "$repo/fuzz/corpus/$target/." "$corpus/"
  inputs=("$corpus")
  [[ -d "$repo/fuzz/regressions/$target" ]] && inputs+=("$repo/fuzz/regressions/$target")

  crashes="$build/crashes/$target"
  mkdir -p "$crashes"
  flags=(-max_total_time="$seconds" -jobs=1 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
    -artifact_prefix="$crashes/")
  # fuzz_room_index (operation numbers) and fuzz_ws_reader (frame headers) have no dictionary.
  dictionary="$repo/fuzz/dict/$target.dict"
  [[ -e "$dictionary" ]] && flags+=(-dict="$dictionary")

  # With -jobs, libFuzzer fuzzes in a worker that logs to fuzz-0.log in the current directory:
  # run it in the scratch directory and read the log from there.
  status=0
  (cd "$work/$target" && "$binary" "${flags[@]}" "${inputs[@]}" >runner.log 2>&1) || status=$?
  log="$work/$target/fuzz-0.log"
  [[ -f "$log" ]] || log="$work/$target/runner.log"

  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n 1)
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -n 1)
  found=$(find "$crashes" -type f -newer "$corpus" | wc -l)
  if ((status != 0 || found > 0)); then
    result="FAILED (exit $status; $found reproducer(s) in ${crashes#"$repo"/})"
    failed+=("$target")
    # The finding (broken invariant or sanitizer report) and its stack.
    finding='fuzz invariant violated|ERROR: [A-Za-z]+Sanitizer|ERROR: libFuzzer|runtime error'
    grep -E -m 20 -A 12 "$finding" "$log" >&2 || tail -n 40 "$log" >&2
  else
    result=ok
  fi
  printf '%-20s %s s  execs %s  exec/s %s  cov %s  ft %s  %s\n' "$target" "$seconds" \
    "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$result"
done

if ((${#failed[@]} > 0)); then
  echo "fuzz/run.sh: FAILED: ${failed[*]} (reproducers in ${build#"$repo"/}/crashes/)" >&2
  exit 1
fi
echo "fuzz/run.sh: all ${#targets[@]} targets ran ${seconds} s each without a finding"
