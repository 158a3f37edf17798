// `cache ls` rows: filter parsing and semantics, sort, limit (docs/cache-management.md#ls, vector 38).
#include <gtest/gtest.h>

#include <unistd.h>

#include "hubcache/manage/list.hpp"
#include "hubcache/util/hash.hpp"
#include "manage_helpers.hpp"

using namespace hubcache;

namespace {

constexpr double k_now = 2'000'000'000;
constexpr double k_day = 86400;

struct List : ::testing::Test {
  test::TempDir dir;
  test::CacheBuilder cb{dir.path()};
  HFCacheInfo cache;

  void SetUp() override {
    // big: 2 GB (sparse), accessed 10 days ago; small: 10 bytes, accessed now; a dataset.
    const RepoRef big{RepoType::Model, "org/big"}, small{RepoType::Model, "org/Small"}, data{RepoType::Dataset, "org/data"};
    cb.add_file(big, test::commit_id(1), "w.bin", "w", true);
    const std::string blob = cb.layout(big).blob_path(sha256_of("w"));
    ASSERT_EQ(::truncate(blob.c_str(), 2'000'000'001), 0);  // sparse
    test::set_times(blob, k_now - 10 * k_day, k_now - 40 * k_day);
    cb.add_file(big, test::commit_id(2), "x.bin", "xx", true);
    test::set_times(cb.layout(big).blob_path(sha256_of("xx")), k_now - 20 * k_day, k_now - 20 * k_day);
    cb.add_ref(big, "main", test::commit_id(2));
    cb.add_file(small, test::commit_id(3), "s.txt", "0123456789");
    cb.add_ref(small, "Main", test::commit_id(3));
    test::set_times(cb.layout(small).blob_path(git_of("0123456789")), k_now, k_now - 1 * k_day);
    cb.add_file(data, test::commit_id(4), "d.csv", "12345");
    test::set_times(cb.layout(data).blob_path(git_of("12345")), k_now - 5 * k_day, k_now - 5 * k_day);
    auto c = scan_cache(dir.path());
    ASSERT_TRUE(c);
    cache = std::move(c).value();
  }
  static std::string sha256_of(const std::string& s) { return sha256_hex(s); }
  static std::string git_of(const std::string& s) { return git_blob_sha1_hex(s); }

  std::vector<std::string> rows(const std::vector<std::string>& filters, std::optional<std::string> sort = {},
                                bool revisions = false, std::optional<std::size_t> limit = {}) {
    ListQuery q;
    q.revisions = revisions;
    for (const auto& f : filters) {
      auto p = parse_list_filter(f);
      EXPECT_TRUE(p) << f << ": " << p.error().message;
      q.filters.push_back(*p);
    }
    if (sort) q.sort = *parse_list_sort(*sort);
    q.limit = limit;
    std::vector<std::string> out;
    for (const auto& e : list_entries(cache, q, k_now))
      out.push_back(e.revision ? e.revision->commit.substr(0, 1) : e.repo->label());
    return out;
  }
};

TEST_F(List, DefaultOrderIsTypeIdThenCommit) {
  EXPECT_EQ(rows({}), (std::vector<std::string>{"dataset/org/data", "model/org/Small", "model/org/big"}));
  EXPECT_EQ(rows({}, std::nullopt, true), (std::vector<std::string>{"4", "3", "1", "2"}));
}

TEST_F(List, SizeFilterUsesPowersOfThousand) {
  // vector 38: size>1GB keeps repos larger than 10^9 bytes.
  EXPECT_EQ(rows({"size>1GB"}), std::vector<std::string>{"model/org/big"});
  EXPECT_EQ(rows({"size > 2000000003"}), std::vector<std::string>{});
  EXPECT_EQ(rows({"size>=2000000003"}), std::vector<std::string>{"model/org/big"});
  EXPECT_EQ(rows({"SIZE<=10"}), (std::vector<std::string>{"dataset/org/data", "model/org/Small"}));
  EXPECT_EQ(rows({"size!=10"}), (std::vector<std::string>{"dataset/org/data", "model/org/big"}));
  EXPECT_EQ(rows({"size=5"}), std::vector<std::string>{"dataset/org/data"});
  EXPECT_EQ(rows({"size<1k"}, std::nullopt, true), (std::vector<std::string>{"4", "3", "2"}));  // per revision
}

TEST_F(List, AgeFiltersCompareTimeElapsed) {
  EXPECT_EQ(rows({"accessed>7d"}), std::vector<std::string>{"model/org/big"});  // last access 10 days ago
  EXPECT_EQ(rows({"accessed<1w"}), (std::vector<std::string>{"dataset/org/data", "model/org/Small"}));
  EXPECT_EQ(rows({"modified>30d"}), std::vector<std::string>{});  // big's newest blob: 20 days
  EXPECT_EQ(rows({"modified>30d"}, std::nullopt, true), std::vector<std::string>{"1"});
  EXPECT_EQ(rows({"modified<=86400"}), std::vector<std::string>{"model/org/Small"});
  EXPECT_EQ(rows({"accessed>2w", "type=model"}), std::vector<std::string>{});
}

TEST_F(List, TypeAndRefsFiltersAreCaseInsensitiveEquality) {
  EXPECT_EQ(rows({"type=Dataset"}), std::vector<std::string>{"dataset/org/data"});
  EXPECT_EQ(rows({"refs=main"}), (std::vector<std::string>{"model/org/Small", "model/org/big"}));
  EXPECT_EQ(rows({"refs=MAIN"}, std::nullopt, true), (std::vector<std::string>{"3", "2"}));
  EXPECT_EQ(rows({"type=model", "refs=main", "size>100"}), std::vector<std::string>{"model/org/big"});
}

TEST_F(List, SortAndLimit) {
  EXPECT_EQ(rows({}, "size"), (std::vector<std::string>{"model/org/big", "model/org/Small", "dataset/org/data"}));
  EXPECT_EQ(rows({}, "size:asc"), (std::vector<std::string>{"dataset/org/data", "model/org/Small", "model/org/big"}));
  EXPECT_EQ(rows({}, "name"), (std::vector<std::string>{"dataset/org/data", "model/org/big", "model/org/Small"}));
  EXPECT_EQ(rows({}, "NAME:desc"), (std::vector<std::string>{"model/org/Small", "model/org/big", "dataset/org/data"}));
  EXPECT_EQ(rows({}, "accessed"), (std::vector<std::string>{"model/org/Small", "dataset/org/data", "model/org/big"}));
  EXPECT_EQ(rows({}, "modified:asc", true), (std::vector<std::string>{"1", "2", "4", "3"}));
  EXPECT_EQ(rows({}, "size", false, 2), (std::vector<std::string>{"model/org/big", "model/org/Small"}));
  EXPECT_EQ(rows({}, std::nullopt, false, 0), std::vector<std::string>{});
}

TEST_F(List, BadExpressionsAreRejectedWithAReason) {
  struct Bad {
    const char* expr;
    const char* words;
  };
  for (const Bad& b : {Bad{"size==1", "Unsupported operator '=='"}, Bad{"size>1.5GB", "Invalid size '1.5GB'"},
                       Bad{"size>1XB", "Invalid size"}, Bad{"accessed>7days", "Invalid duration"},
                       Bad{"color=red", "Unsupported filter key 'color'"}, Bad{"type>model", "Only '=' is supported for 'type'"},
                       Bad{"refs!=main", "Only '=' is supported for 'refs'"}, Bad{"size", "Invalid filter expression"},
                       Bad{">5", "Invalid filter expression"}, Bad{"size>", "Invalid filter expression"}}) {
    auto r = parse_list_filter(b.expr);
    ASSERT_FALSE(r) << b.expr;
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(r.error().message.find(b.words), std::string::npos) << b.expr << " -> " << r.error().message;
  }
  for (const char* s : {"color", "size:up", "size:", ":asc", "si ze"}) EXPECT_FALSE(parse_list_sort(s)) << s;
  auto ok = parse_list_sort(" Modified ");
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->descending);
  EXPECT_FALSE(parse_list_sort("name")->descending);
}

}  // namespace
