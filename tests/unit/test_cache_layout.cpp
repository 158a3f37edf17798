#include <gtest/gtest.h>

#include "hubcache/cache/layout.hpp"

using namespace hubcache;

TEST(Layout, FolderNamesSpecVectors) {  // vector 1
  EXPECT_EQ(repo_folder_name({RepoType::Model, "julien-c/EsperBERTo-small"}), "models--julien-c--EsperBERTo-small");
  EXPECT_EQ(repo_folder_name({RepoType::Dataset, "glue"}), "datasets--glue");
  EXPECT_EQ(repo_folder_name({RepoType::Space, "dalle-mini/dalle-mini"}), "spaces--dalle-mini--dalle-mini");
  auto parsed = parse_repo_folder_name("datasets--A--B");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->type, RepoType::Dataset);
  EXPECT_EQ(parsed->id, "A/B");
  EXPECT_FALSE(parse_repo_folder_name("version.txt"));
  EXPECT_FALSE(parse_repo_folder_name("dataset--x"));  // singular prefix is not a type folder
  EXPECT_FALSE(parse_repo_folder_name("foo--bar"));
}

TEST(Layout, PointerTargetsSpecVectors) {  // vector 2
  EXPECT_EQ(pointer_target("config.json", "X"), "../../blobs/X");
  EXPECT_EQ(pointer_target("a/b/c.bin", "X"), "../../../../blobs/X");
}

TEST(Layout, Paths) {
  RepoLayout l("/c", {RepoType::Model, "o/r"});
  EXPECT_EQ(l.folder(), "/c/models--o--r");
  EXPECT_EQ(l.blob_path("E"), "/c/models--o--r/blobs/E");
  EXPECT_EQ(l.incomplete_path("E"), "/c/models--o--r/blobs/E.incomplete");
  EXPECT_EQ(l.ref_path("refs/pr/1"), "/c/models--o--r/refs/refs/pr/1");  // vector 3
  EXPECT_EQ(l.pointer_path("C", "a/b.txt"), "/c/models--o--r/snapshots/C/a/b.txt");
  EXPECT_EQ(l.no_exist_path("C", "x.json"), "/c/models--o--r/.no_exist/C/x.json");
  EXPECT_EQ(l.tree_path("C"), "/c/models--o--r/trees/C.json");
  EXPECT_EQ(l.lock_path("E"), "/c/.locks/models--o--r/E.lock");  // vector 23
}

TEST(Layout, CachedirTagBytes) {  // vector 33
  EXPECT_EQ(cachedir_tag_content(),
            "Signature: 8a477f597d28d172789f06886806bc55\n"
            "# This file is a cache directory tag created by huggingface_hub.\n"
            "# For information about cache directory tags, see:\n"
            "#\thttps://bford.info/cachedir/\n");
}
