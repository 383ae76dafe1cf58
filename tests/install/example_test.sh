#!/usr/bin/env bash
# example_test.sh BUILD EXAMPLES WORK CMAKE CTEST GENERATOR SOURCE_INCLUDE
# Installs BUILD into WORK/prefix, builds EXAMPLES out of tree against it in
# WORK/build and runs the examples' ctest. Exit 0 only if every step passed.
set -euo pipefail
build=$1 examples=$2 work=$3 cmake=$4 ctest=$5 generator=$6 source_include=$7
jobs=${JOBS:-2}

step() { echo "== $*"; }
rm -rf "$work"
mkdir -p "$work"

step "install $build into $work/prefix"
"$cmake" --install "$build" --prefix "$work/prefix" >"$work/install.log"
test -f "$work/prefix/lib/cmake/streamsim/streamsimConfig.cmake"
test -x "$work/prefix/bin/streamsim"

step "configure $examples against it"
"$cmake" -S "$examples" -B "$work/build" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON

# Out of tree for real: nothing may compile against the source tree's headers.
if grep -q -- "-I$source_include\b\|-isystem $source_include\b" "$work/build/compile_commands.json"; then
  echo "example_test: the example compiles against $source_include, not the installed headers" >&2
  exit 1
fi

step "build"
"$cmake" --build "$work/build" -j "$jobs"

step "ctest"
cd "$work/build"
"$ctest" --output-on-failure --timeout 600
step "the example passed; removing $work"
rm -rf "$work"
