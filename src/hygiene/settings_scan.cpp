#include "settings_scan.hpp"

#include <sys/stat.h>

#include <cctype>

#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/text.hpp"
#include "walk_roots.hpp"

namespace hubcache::hygiene::detail {

const std::vector<std::string_view>& cache_variables() {
  static const std::vector<std::string_view> k = {
      "HF_HOME",           "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE",      "TRANSFORMERS_CACHE",
      "HF_DATASETS_CACHE", "HF_CACHE_DIR", "SENTENCE_TRANSFORMERS_HOME", "LLAMA_CACHE"};
  return k;
}

namespace {

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// `word` occurs in `line` as a whole identifier.
bool has_word(std::string_view line, std::string_view word) {
  for (auto at = line.find(word); at != std::string_view::npos; at = line.find(word, at + 1)) {
    const bool before = at == 0 || !is_word_char(line[at - 1]);
    const bool after = at + word.size() == line.size() || !is_word_char(line[at + word.size()]);
    if (before && after) return true;
  }
  return false;
}

bool is_config_file(std::string_view n) {
  if (n == ".env" || n.starts_with(".env.")) return true;
  for (std::string_view ext : {".py", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".sh"})
    if (n.ends_with(ext)) return true;
  return false;
}

}  // namespace

std::vector<SettingLine> settings_in(const std::string& file, std::string_view text, std::string_view folder_name) {
  std::vector<SettingLine> out;
  int number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = std::min(text.find('\n', start), text.size());
    const std::string_view line = trim(text.substr(start, end - start));
    start = end + 1;
    ++number;
    if (line.empty() || line.front() == '#' || line.starts_with("//")) continue;
    std::string variable;
    for (auto v : cache_variables())
      if (has_word(line, v)) {
        variable = std::string(v);
        break;
      }
    if (variable.empty() && has_word(line, "cache_dir")) variable = "cache_dir";
    const bool names_folder = !folder_name.empty() && (line.find("\"" + std::string(folder_name)) != std::string_view::npos ||
                                                       line.find("'" + std::string(folder_name)) != std::string_view::npos ||
                                                       line.find("./" + std::string(folder_name)) != std::string_view::npos ||
                                                       line.find("=" + std::string(folder_name)) != std::string_view::npos);
    if (variable.empty() && !names_folder) continue;
    out.push_back({file, number, std::string(line.substr(0, 160)), variable});
  }
  return out;
}

std::vector<SettingLine> project_settings(const std::string& project, const std::string& skip_dir, std::string_view folder_name) {
  std::vector<SettingLine> out;
  const std::string skip_rel = skip_dir.size() > project.size() + 1 ? skip_dir.substr(project.size() + 1) : std::string();
  auto enter = [&](const std::string& rel, const std::string& name) {
    return rel != skip_rel && !is_skipped_folder_name(name) && std::count(rel.begin(), rel.end(), '/') < 2 && name != ".cache";
  };
  auto visit = [&](const fs::FolderEntry& e) {
    if (!S_ISREG(e.lst.st_mode) || !is_config_file(e.name) || e.lst.st_size > (1 << 20)) return;
    if (auto text = fs::read_file(e.path, 1u << 20)) {
      auto found = settings_in(e.path, *text, folder_name);
      out.insert(out.end(), found.begin(), found.end());
    }
  };
  fs::walk_folder(project, enter, visit, [](const std::string&, int, fs::WalkFailure) {});
  return out;
}

std::vector<SettingLine> profile_settings(const std::string& home) {
  std::vector<SettingLine> out;
  if (home.empty()) return out;
  for (const char* name :
       {".bashrc", ".bash_profile", ".profile", ".zshrc", ".zshenv", ".zprofile", ".config/fish/config.fish"}) {
    const std::string path = home + "/" + name;
    auto text = fs::read_file(path, 1u << 20);
    if (!text) continue;
    for (auto& s : settings_in(path, *text, {}))
      if (s.variable != "cache_dir") out.push_back(std::move(s));
  }
  return out;
}

}  // namespace hubcache::hygiene::detail
