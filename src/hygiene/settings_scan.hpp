#pragma once
// Lines in a project's files and in shell profiles that point tools at a cache: what `doctor`
// reports as cache settings and `migrate` will rewrite.
#include <string>
#include <string_view>
#include <vector>

namespace hubcache::hygiene::detail {

struct SettingLine {
  std::string file;
  int line = 0;          // 1-based
  std::string text;      // the line, trimmed, at most 160 characters
  std::string variable;  // the variable or key it sets ("HF_HOME", "cache_dir"), or "" when it only names the folder
};

/// The cache variables tools read: HF_HOME, HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, TRANSFORMERS_CACHE,
/// HF_DATASETS_CACHE, HF_CACHE_DIR (a common project convention), SENTENCE_TRANSFORMERS_HOME, LLAMA_CACHE.
const std::vector<std::string_view>& cache_variables();

/// The settings in `text` (a file's content): non-comment lines that set a cache variable or a
/// `cache_dir` key / argument, or that name `folder_name` ("model_cache") in quotes or after '='.
std::vector<SettingLine> settings_in(const std::string& file, std::string_view text, std::string_view folder_name);

/// Scans the files of the project folder `project` (to depth 3, skipping `skip_dir` and folders
/// that hold no configuration): `.env`, `.env.*`, `*.py`, `*.yaml`, `*.yml`, `*.toml`, `*.cfg`,
/// `*.ini`, `*.sh` up to 1 MiB each.
std::vector<SettingLine> project_settings(const std::string& project, const std::string& skip_dir, std::string_view folder_name);

/// The shell profiles of `home` (.bashrc, .bash_profile, .profile, .zshrc, .zshenv, .zprofile,
/// .config/fish/config.fish) and the lines that set a cache variable.
std::vector<SettingLine> profile_settings(const std::string& home);

}  // namespace hubcache::hygiene::detail
