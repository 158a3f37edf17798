#pragma once
// The CLI's exit codes as README.md#exit-codes documents them, spelled out here rather than
// taken from apps/cli, so that a changed value fails the tests that check the contract.
namespace hubcache::test::exit_code {

inline constexpr int failure = 1;        // any other failure
inline constexpr int usage = 2;          // bad arguments: flags, repo id, revision
inline constexpr int not_cached = 3;     // not in the cache, and the network may not or could not be used
inline constexpr int auth = 4;           // token missing or refused, or the repo is gated
inline constexpr int not_found = 5;      // no such repo, revision, file or local path
inline constexpr int integrity = 6;      // content does not match its hash, or the cache is corrupt
inline constexpr int disk_full = 7;      // not enough space
inline constexpr int interrupted = 130;  // Ctrl-C (128 + SIGINT)

}  // namespace hubcache::test::exit_code
