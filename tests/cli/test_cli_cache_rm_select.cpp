// `hubcache cache rm` (and `cache delete`) without targets: on a terminal, a numbered list of the
// cached repos and revisions to pick from, then the usual plan and confirmation; elsewhere an
// error saying what to pass.
#include <gtest/gtest.h>

#include "cache_builder.hpp"
#include "temp_dir.hpp"
#include "terminal.hpp"

using namespace hubcache;

namespace {

const RepoRef k_model{RepoType::Model, "org/model"};
const RepoRef k_fork{RepoType::Model, "other/fork"};  // holds one of org/model's commits too
const RepoRef k_data{RepoType::Dataset, "org/data"};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct CliCacheRmSelect : ::testing::Test {
  test::TempDir dir;
  test::CacheBuilder cb{dir.path()};
  std::string c1 = test::commit_id(1), c2 = test::commit_id(2), c3 = test::commit_id(3);

  // The list numbers: 1 dataset/org/data, 2 its c3; 3 model/org/model, 4 its c1, 5 its c2;
  // 6 model/other/fork, 7 its c1.
  void SetUp() override {
    cb.add_file(k_data, c3, "train.csv", std::string(1500, 'd'));
    cb.add_file(k_model, c1, "config.json", "{}");
    cb.add_file(k_model, c1, "model.bin", std::string(2500, 'm'), true);
    cb.add_file(k_model, c2, "model.bin", std::string(2600, 'n'), true);
    cb.add_ref(k_model, "main", c2);
    cb.add_ref(k_model, "refs/pr/1", c1);
    cb.add_file(k_fork, c1, "config.json", "{}");
  }
  std::vector<std::string> args(std::vector<std::string> extra, const std::string& command = "rm") {
    std::vector<std::string> a{test::hubcache_bin(), "cache", command, "--cache-dir", dir.path()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  std::string snapshot(const RepoRef& repo, const std::string& commit) { return cb.layout(repo).snapshot_dir(commit); }
};

TEST_F(CliCacheRmSelect, ListsRevisionsThenDeletesThePickedOneAfterConfirmation) {
  const auto r = test::run_in_terminal(args({}), "4\ny\n");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  // The list: repos with their revision count and size, revisions with short commit, refs, size, age.
  EXPECT_TRUE(contains(r.out, "Cached revisions in " + dir.path() + ":")) << r.out;
  EXPECT_TRUE(contains(r.out, "  1  dataset/org/data (1 revision, 1.5KB)\r\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "    2  33333333  (detached)  1.5KB  modified a few seconds ago\r\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "  3  model/org/model (2 revisions, ")) << r.out;
  EXPECT_TRUE(contains(r.out, "    4  11111111  refs/pr/1   2.5KB  modified a few seconds ago\r\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "    5  22222222  main        2.6KB  modified a few seconds ago\r\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "  6  model/other/fork (1 revision, 2.0B)\r\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "    7  11111111  (detached)   2.0B  modified a few seconds ago\r\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "Delete: ")) << r.out;
  // Then exactly `cache rm <target>`'s plan and question.
  EXPECT_TRUE(contains(
      r.out, "About to delete 1 revision(s) totalling 2.5K.\r\n  - model/org/model:\r\n      " + c1 + " [refs/pr/1] 2.5K\r\n"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "Proceed with deletion? [y/N]")) << r.out;
  EXPECT_TRUE(contains(r.out, "Deleted 0 repo(s) and 1 revision(s); freed 2.5K.")) << r.out;
  EXPECT_FALSE(test::exists(snapshot(k_model, c1)));
  EXPECT_TRUE(test::exists(snapshot(k_model, c2)));
  // The same commit in another repo was not picked: it stays.
  EXPECT_TRUE(test::exists(snapshot(k_fork, c1)));
  EXPECT_TRUE(test::exists(snapshot(k_data, c3)));
}

TEST_F(CliCacheRmSelect, RepoNumbersAndRangesWithDryRunChangeNothing) {
  const std::string before = test::tree_fingerprint(dir.path());
  // 1 = the whole dataset repo; 4-5 = every revision of org/model, so the whole repo too.
  const auto r = test::run_in_terminal(args({"--dry-run"}), "1 4-5\n");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "About to delete 2 repo(s) totalling ")) << r.out;
  EXPECT_TRUE(contains(r.out, "  - dataset/org/data (entire repo)\r\n  - model/org/model (entire repo)\r\n")) << r.out;
  EXPECT_FALSE(contains(r.out, "other/fork (entire")) << r.out;
  EXPECT_TRUE(contains(r.out, "Dry run: no files were deleted.")) << r.out;
  EXPECT_FALSE(contains(r.out, "Proceed")) << r.out;
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
}

TEST_F(CliCacheRmSelect, YesSkipsTheQuestionAsWithTargets) {
  const auto r = test::run_in_terminal(args({"-y"}, "delete"), "6\n");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_FALSE(contains(r.out, "Proceed")) << r.out;
  EXPECT_TRUE(contains(r.out, "Deleted 1 repo(s) and 1 revision(s)")) << r.out;
  EXPECT_FALSE(test::exists(cb.layout(k_fork).folder()));
  EXPECT_TRUE(test::exists(snapshot(k_model, c1)));
}

TEST_F(CliCacheRmSelect, EmptyLineOrEndOfInputCancels) {
  const std::string before = test::tree_fingerprint(dir.path());
  for (const std::string input : {"\n", "\x04"}) {  // Enter; Ctrl-D (end of input)
    const auto r = test::run_in_terminal(args({}), input);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_TRUE(contains(r.out, "Nothing deleted.")) << r.out;
    EXPECT_FALSE(contains(r.out, "About to delete")) << r.out;
    EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
  }
}

TEST_F(CliCacheRmSelect, InvalidAnswersAreExplainedAndAskedAgain) {
  const std::string before = test::tree_fingerprint(dir.path());
  const auto r = test::run_in_terminal(args({}), "9\n2-x\n2\nn\n");
  EXPECT_TRUE(contains(r.out, "Invalid selection: 9 is not in the list: pick from 1 to 7. Try again (2 attempts left)."))
      << r.out;
  EXPECT_TRUE(contains(r.out, "Invalid selection: '2-x' is not a number or a range")) << r.out;
  EXPECT_TRUE(contains(r.out, "Try again (1 attempt left).")) << r.out;
  // The third answer is valid: the plan follows, and "n" declines it.
  EXPECT_TRUE(contains(r.out, "About to delete 1 repo(s) totalling 1.5K.")) << r.out;
  EXPECT_TRUE(contains(r.out, "Aborted: nothing was deleted.")) << r.out;
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);

  const auto give_up = test::run_in_terminal(args({}), "0\nall\n3-1\n");
  EXPECT_EQ(give_up.exit_code, 2) << give_up.out;
  EXPECT_TRUE(contains(give_up.out, "Error: no valid selection after 3 attempts. Nothing deleted.")) << give_up.out;
  EXPECT_TRUE(contains(give_up.out, "range '3-1' is reversed: write 1-3")) << give_up.out;
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
}

TEST_F(CliCacheRmSelect, WithoutATerminalItSaysWhatToPass) {
  const std::string before = test::tree_fingerprint(dir.path());
  for (const std::string command : {"rm", "delete"}) {
    const auto r = test::run_process(args({}, command), {}, "4\ny\n");
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_TRUE(contains(r.err, "Error: no target given: pass the repos (model/org/name")) << r.err;
    EXPECT_TRUE(contains(r.err, "on a terminal without targets, `hubcache cache rm` shows a selection list")) << r.err;
  }
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
}

TEST_F(CliCacheRmSelect, AnEmptyCacheHasNothingToList) {
  test::TempDir empty;
  const auto r = test::run_in_terminal({test::hubcache_bin(), "cache", "rm", "--cache-dir", empty.path()}, "");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "No cached repo in " + empty.path() + ": nothing to delete.")) << r.out;
}

}  // namespace
