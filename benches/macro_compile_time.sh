#!/usr/bin/env bash
# Compile time of 500 `#[raceway::traced]` functions against 500 `#[tracing::instrument]` ones.
#
#   bash benches/macro_compile_time.sh [runs]
#
# Generates two crates under target/macro-compile-time/, builds their dependencies once, then times
# `cargo build` of each crate alone (after touching its source) `runs` times (default 5), and
# prints the medians and their ratio. Results go in BENCHMARKS.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
work="$root/target/macro-compile-time"
mkdir -p "$work"
export CARGO_TARGET_DIR="$work/target"

gen() { # name, dependency line, attribute
    local dir="$work/$1"
    mkdir -p "$dir/src"
    cat > "$dir/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
$2
[workspace]
TOML
    {
        echo "#![allow(dead_code)]"
        for i in $(seq 1 500); do
            echo "$3"
            echo "pub fn f$i(a: u64, b: &str) -> u64 { if b.is_empty() { a } else { a + $i } }"
        done
    } > "$dir/src/lib.rs"
}

gen traced500 "raceway = { path = \"$root/raceway\" }" "#[raceway::traced]"
gen instrument500 "tracing = \"0.1\"" "#[tracing::instrument]"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_build() { # crate
    local dir="$work/$1" t
    cargo build -q --manifest-path "$dir/Cargo.toml" # dependencies, once
    for _ in $(seq 1 "$runs"); do
        touch "$dir/src/lib.rs"
        t=$( { /usr/bin/time -f "%e" cargo build -q --manifest-path "$dir/Cargo.toml"; } 2>&1 | tail -1 )
        echo "$t"
    done | median
}

traced=$(time_build traced500)
instrument=$(time_build instrument500)
echo "500 #[raceway::traced]:       ${traced} s (median of $runs)"
echo "500 #[tracing::instrument]:   ${instrument} s (median of $runs)"
awk -v a="$traced" -v b="$instrument" 'BEGIN { printf "ratio traced/instrument: %.2f\n", a / b }'
