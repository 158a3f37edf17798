#!/usr/bin/env bash
# The package tests (tests/package/CMakeLists.txt): builds consumer/ against this build of hubcache
# one way per run, runs it and checks its output. Everything happens in a temporary directory
# (under the build directory, so ccache sees stable relative paths) that is removed on exit.
#   run.sh installed|pkg-config|subdirectory BUILD SOURCE VERSION GENERATOR CXX [LAUNCHER]
# installed:    `cmake --install BUILD --prefix TMP`, checks what was installed (public headers
#               only, the archives, package files without build paths), then find_package(hubcache).
# pkg-config:   the same install, then a plain compiler command with `pkg-config --cflags --libs`.
# subdirectory: add_subdirectory(SOURCE) with CLI11 and GTest hidden; checks that no CLI, example
#               or test target exists, then builds the consumer target alone.
set -euo pipefail
mode=$1 build=$2 src=$3 version=$4 generator=$5 cxx=$6 launcher=${7:-}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "$build/package-test-$mode-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# ccache: paths under the source tree hash as relative paths, so a rerun hits the cache.
[[ -n $launcher && -z ${CCACHE_BASEDIR:-} ]] && export CCACHE_BASEDIR=$src
mkdir "$tmp/cache"

fail() { echo "package test ($mode): $*" >&2; exit 1; }

install_tree() {
  cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" || { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
  local p=$tmp/prefix
  # Headers: exactly the public ones plus the generated version.hpp.
  diff <(cd "$src/include" && find hubcache -type f | sort) \
       <(cd "$p/include" && find . -type f | sed 's|^\./||' | grep -vx hubcache/version.hpp | sort) \
    || fail "installed headers differ from include/hubcache (above: < missing, > not public)"
  [[ -f $p/include/hubcache/version.hpp ]] || fail "hubcache/version.hpp not installed"
  # lib/: one archive per module (src/*/), the CMake package and hubcache.pc; nothing of tests or bench.
  local want_libs libs
  want_libs=$( (for d in "$src"/src/*/; do echo "libhubcache_$(basename "$d").a"; done
               echo cmake/hubcache/hubcacheConfig.cmake; echo cmake/hubcache/hubcacheConfigVersion.cmake
               echo cmake/hubcache/hubcacheTargets.cmake; echo pkgconfig/hubcache.pc) | sort)
  libs=$(cd "$p/lib" && find . -type f | sed 's|^\./||' | grep -v '^cmake/hubcache/hubcacheTargets-[a-z]*\.cmake$' | sort)
  diff <(echo "$want_libs") <(echo "$libs") || fail "unexpected files in lib/ (above: < missing, > unexpected)"
  # share/doc/hubcache: the documents the headers point to, exactly docs/*.md.
  diff <(cd "$src/docs" && ls *.md | sort) <(cd "$p/share/doc/hubcache" && find . -type f | sed 's|^\./||' | sort) \
    || fail "installed documents differ from docs/*.md (above: < missing, > unexpected)"
  local other
  other=$(cd "$p" && find . -mindepth 1 -maxdepth 1 ! -name include ! -name lib ! -name bin ! -name share | tr '\n' ' ')
  [[ -z $other ]] || fail "unexpected top-level entries: $other"
  if [[ -d $p/bin ]]; then
    [[ $(ls "$p/bin" | tr '\n' ' ') == "hubcache hubcache-net " ]] || fail "unexpected files in bin/: $(ls "$p/bin")"
  fi
  # The package files name no build or source path, nor the project's internal targets.
  if grep -rlE "$build|$src|hubcache_settings|hubcache_test" "$p/lib/cmake" "$p/lib/pkgconfig"; then
    fail "build-only paths or targets in the installed package files (above)"
  fi
}

run_consumer() {
  "$1" "$tmp/cache" >"$tmp/out" || { cat "$tmp/out"; fail "the consumer failed"; }
  local want
  want="version $version
uri dataset org/name v1 data/train.csv
scan repos=0 size=0
offline download local_entry_not_found
serve listening"
  diff <(echo "$want") "$tmp/out" || fail "the consumer printed something else (above: < wanted, > printed)"
  echo "package test ($mode): OK"
}

cmake_flags=(-G "$generator" -DCMAKE_CXX_COMPILER="$cxx")
[[ -n $launcher ]] && cmake_flags+=(-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher")

case $mode in
  installed)
    install_tree
    cmake -S "$here/consumer" -B "$tmp/build" "${cmake_flags[@]}" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
      -DHUBCACHE_EXPECT_VERSION="$version" >"$tmp/configure.log" || { cat "$tmp/configure.log"; fail "configure failed"; }
    cmake --build "$tmp/build" --target consumer
    run_consumer "$tmp/build/consumer"
    ;;
  pkg-config)
    install_tree
    export PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig
    [[ $(pkg-config --modversion hubcache) == "$version" ]] || fail "pkg-config --modversion: $(pkg-config --modversion hubcache)"
    # Every module archive is linked (the consumer's link proves the order).
    static=$(pkg-config --libs --static hubcache)
    for a in "$tmp"/prefix/lib/libhubcache_*.a; do
      a=$(basename "$a" .a)
      [[ " $static " == *" -l${a#lib} "* ]] || fail "pkg-config --libs --static lacks -l${a#lib}: $static"
    done
    # shellcheck disable=SC2046 # the flags are meant to split
    $launcher "$cxx" -std=c++20 "$here/consumer/consumer.cpp" -o "$tmp/consumer" \
      $(pkg-config --cflags --libs hubcache)
    run_consumer "$tmp/consumer"
    ;;
  subdirectory)
    # What an embedding project gets: no CLI11 or GTest needed, and no CLI, example or test built.
    cmake -S "$here/consumer" -B "$tmp/build" "${cmake_flags[@]}" -DHUBCACHE_SOURCE_DIR="$src" \
      -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON --no-warn-unused-cli \
      >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; fail "configure failed"; }
    # The embedded tree defines the module libraries, the umbrella and its build settings only.
    allowed=$(printf '%s\n' hubcache hubcache_settings; for d in "$src"/src/*/; do basename "$d" | sed 's/^/hubcache_/'; done)
    extra=$(grep -vxF -f <(echo "$allowed") "$tmp/build/hubcache-targets.txt" || true)
    [[ -z $extra ]] || fail "the embedding build has hubcache targets besides the library: $(echo $extra)"
    grep -qx hubcache_util "$tmp/build/hubcache-targets.txt" || fail "no hubcache_util in the embedding build"
    ! grep -q CLI11 "$tmp/configure.log" || fail "the embedding build looked for CLI11"
    [[ ! -e $tmp/build/hubcache/tests ]] || fail "the embedding build configured hubcache's tests"
    cmake --build "$tmp/build" --target consumer -j2
    run_consumer "$tmp/build/consumer"
    ;;
  *) fail "unknown mode (installed, pkg-config, subdirectory)" ;;
esac
