#pragma once
// The configuration edits of `hubcache migrate`: a setting line that points at a project cache,
// rewritten to point at the central cache, and the unified diff of such edits.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "settings_scan.hpp"

namespace hubcache::hygiene::detail {

/// Where a project cache is and where its contents went.
struct CacheMove {
  std::string project;  // the project folder (relative values in its files are taken from here)
  std::string cache;    // the project cache (absolute)
  std::string central;  // the central Hub cache (absolute)
};

/// One line to change: the whole line before and after (without its newline).
struct LineEdit {
  std::string file;  // absolute
  int line = 0;      // 1-based
  std::string before, after;
};

/// A setting that points at the project cache but that migrate does not rewrite, and why.
struct ManualSetting {
  std::string file;
  int line = 0;
  std::string text;
  std::string why;
};

/// The edit for `setting` (its full line is `raw`): the one value in it that names the project
/// cache (a quoted string, or the bare value after `=` / `: `; relative values are taken from the
/// project folder, `$PWD/` and `${PWD}/` too) replaced by the central cache, in the same quotes.
/// HF_HOME values name the folder above a `hub` cache and are replaced by the one above the central
/// cache when it is named `hub`. nullopt with `manual` set when the line points at the project
/// cache in a way that is not one such value (two values, a computed path, a variable that is not
/// a Hub cache's, a path with quotes); nullopt with `manual` empty when it does not point at it.
std::optional<LineEdit> edit_for(const SettingLine& setting, std::string_view raw, const CacheMove& move,
                                 std::optional<ManualSetting>& manual);

/// A unified diff (`diff -u` format, 3 lines of context, `--- a/<label>` / `+++ b/<label>`) of
/// `lines` with the edits applied. `final_newline`: whether the file ends with a newline.
/// `edits` are of this file, each line at most once.
std::string unified_diff(const std::string& label, const std::vector<std::string>& lines, bool final_newline,
                         const std::vector<LineEdit>& edits);

/// Splits a file's text into lines (without "\n"); `final_newline` says whether it ended with one.
std::vector<std::string> split_lines(std::string_view text, bool& final_newline);

}  // namespace hubcache::hygiene::detail
