// migrate's configuration edits (src/hygiene/config_edit.hpp): which lines are rewritten and how,
// which are left for a person, and a unified diff byte-identical to GNU `diff -u`'s.
#include <gtest/gtest.h>

#include "config_edit.hpp"
#include "temp_dir.hpp"

using namespace hubcache::hygiene::detail;

namespace {

const CacheMove k_move{"/lab/p", "/lab/p/model_cache", "/data/hf/hub"};

struct Outcome {
  std::optional<LineEdit> edit;
  std::optional<ManualSetting> manual;
};

Outcome edit(const std::string& line, const std::string& variable, const CacheMove& move = k_move) {
  Outcome o;
  SettingLine s{"/lab/p/f", 3, line, variable};
  o.edit = edit_for(s, line, move, o.manual);
  return o;
}

std::string after(const std::string& line, const std::string& variable, const CacheMove& move = k_move) {
  const Outcome o = edit(line, variable, move);
  EXPECT_TRUE(o.edit) << line << (o.manual ? " -> by hand: " + o.manual->why : " -> nothing");
  return o.edit ? o.edit->after : "";
}

TEST(ConfigEdit, RewritesEnvLinesAndSimpleStringDefaults) {
  EXPECT_EQ(after("HF_HUB_CACHE=./model_cache", "HF_HUB_CACHE"), "HF_HUB_CACHE=/data/hf/hub");
  EXPECT_EQ(after("export TRANSFORMERS_CACHE=\"$PWD/model_cache/\"  # local", "TRANSFORMERS_CACHE"),
            "export TRANSFORMERS_CACHE=\"/data/hf/hub\"  # local");
  EXPECT_EQ(after("HF_CACHE_DIR=/lab/p/model_cache", "HF_CACHE_DIR"), "HF_CACHE_DIR=/data/hf/hub");
  EXPECT_EQ(after("CACHE_DIR = os.getenv(\"HF_HUB_CACHE\", './model_cache')", "HF_HUB_CACHE"),
            "CACHE_DIR = os.getenv(\"HF_HUB_CACHE\", '/data/hf/hub')");
  EXPECT_EQ(after("    model = AutoModel.from_pretrained(name, cache_dir=\"model_cache\")", "cache_dir"),
            "    model = AutoModel.from_pretrained(name, cache_dir=\"/data/hf/hub\")");
  EXPECT_EQ(after("cache_dir: ./model_cache", "cache_dir"), "cache_dir: /data/hf/hub");
  EXPECT_EQ(after("cache_dir = \"./model_cache\"", "cache_dir"), "cache_dir = \"/data/hf/hub\"");
  EXPECT_EQ(after("DEFAULT = \"./model_cache\"", ""), "DEFAULT = \"/data/hf/hub\"");
}

TEST(ConfigEdit, HfHomeNamesTheFolderAboveTheHubCache) {
  const CacheMove home{"/lab/p", "/lab/p/model_cache/hub", "/data/hf/hub"};
  EXPECT_EQ(after("HF_HOME=./model_cache", "HF_HOME", home), "HF_HOME=/data/hf");
  EXPECT_EQ(after("os.environ[\"HF_HOME\"] = \"./model_cache\"", "HF_HOME", home), "os.environ[\"HF_HOME\"] = \"/data/hf\"");
  const CacheMove odd{"/lab/p", "/lab/p/model_cache/hub", "/data/models"};
  const Outcome o = edit("HF_HOME=./model_cache", "HF_HOME", odd);
  EXPECT_FALSE(o.edit);
  ASSERT_TRUE(o.manual);
  EXPECT_NE(o.manual->why.find("HF_HUB_CACHE=/data/models"), std::string::npos) << o.manual->why;
}

TEST(ConfigEdit, LeavesForAPersonWhatIsNotASimpleValue) {
  for (const auto& [line, variable] :
       std::vector<std::pair<std::string, std::string>>{{"CACHE = os.path.join(ROOT, \"model_cache\")", ""},
                                                        {"CACHE = Path(__file__).parent / \"model_cache\"", ""},
                                                        {"a, b = \"./model_cache\", \"model_cache\"", ""},
                                                        {"HF_DATASETS_CACHE=./model_cache", "HF_DATASETS_CACHE"},
                                                        {"CACHE = f\"{ROOT}/model_cache\"", ""}}) {
    const Outcome o = edit(line, variable);
    EXPECT_FALSE(o.edit) << line;
    EXPECT_TRUE(o.manual) << line;
  }
  // Quotes in the central path cannot go into a quoted value.
  const Outcome q = edit("C = \"./model_cache\"", "", {"/lab/p", "/lab/p/model_cache", "/data/it\"s"});
  EXPECT_FALSE(q.edit);
  EXPECT_TRUE(q.manual);
  // A space in the central path: a bare value is quoted.
  EXPECT_EQ(after("HF_HUB_CACHE=./model_cache", "HF_HUB_CACHE", {"/lab/p", "/lab/p/model_cache", "/data/my models"}),
            "HF_HUB_CACHE=\"/data/my models\"");
}

TEST(ConfigEdit, IgnoresSettingsThatPointElsewhere) {
  for (const auto& [line, variable] : std::vector<std::pair<std::string, std::string>>{
           {"HF_HUB_CACHE=/somewhere/else", "HF_HUB_CACHE"},
           {"TRANSFORMERS_CACHE=$HOME/cache", "TRANSFORMERS_CACHE"},
           {"HF_HOME=./model_cache", "HF_HOME"}}) {  // the project cache is not inside a `hub` folder here
    const Outcome o = edit(line, variable);
    if (variable == "HF_HOME") {  // HF_HOME=./model_cache names the cache itself: rewritten to the central HF_HOME
      ASSERT_TRUE(o.edit) << line;
      EXPECT_EQ(o.edit->after, "HF_HOME=/data/hf");
      continue;
    }
    EXPECT_FALSE(o.edit) << line;
    EXPECT_FALSE(o.manual) << line;
  }
}

// The diff equals GNU diff -u's (headers aside) for edits near each other, far apart, at the
// first and the last line, with and without a final newline.
TEST(ConfigEdit, UnifiedDiffMatchesGnuDiff) {
  hubcache::test::TempDir dir;
  for (const bool final_newline : {true, false}) {
    for (const std::vector<int>& changed :
         std::vector<std::vector<int>>{{1}, {5}, {20}, {3, 4}, {2, 9}, {2, 10}, {2, 11}, {1, 8, 20}, {19, 20}}) {
      std::vector<std::string> lines;
      for (int i = 1; i <= 20; ++i) lines.push_back("line " + std::to_string(i));
      std::vector<LineEdit> edits;
      std::vector<std::string> changed_lines = lines;
      for (int n : changed) {
        edits.push_back({"f", n, lines[static_cast<std::size_t>(n) - 1], "LINE " + std::to_string(n)});
        changed_lines[static_cast<std::size_t>(n) - 1] = "LINE " + std::to_string(n);
      }
      auto text = [&](const std::vector<std::string>& ls) {
        std::string t;
        for (std::size_t i = 0; i < ls.size(); ++i) t += ls[i] + (i + 1 < ls.size() || final_newline ? "\n" : "");
        return t;
      };
      hubcache::test::write_file(dir.path() + "/a", text(lines));
      hubcache::test::write_file(dir.path() + "/b", text(changed_lines));
      const auto gnu = hubcache::test::run_process({"/usr/bin/diff", "-u", dir.path() + "/a", dir.path() + "/b"});
      ASSERT_EQ(gnu.exit_code, 1) << gnu.err;
      const std::string ours = unified_diff("f", lines, final_newline, edits);
      auto body = [](const std::string& d) {  // without the two header lines
        std::size_t at = d.find('\n');
        at = d.find('\n', at + 1);
        return d.substr(at + 1);
      };
      EXPECT_EQ(body(ours), body(gnu.out)) << "changed lines " << changed.front() << "..., final newline " << final_newline;
      EXPECT_TRUE(ours.starts_with("--- a/f\n+++ b/f\n@@ "));
    }
  }
}

TEST(ConfigEdit, SplitLinesKeepsTheFinalNewlineApart) {
  bool nl = false;
  EXPECT_EQ(split_lines("a\nb\n", nl), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(nl);
  EXPECT_EQ(split_lines("a\n\nb", nl), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_FALSE(nl);
}

}  // namespace
