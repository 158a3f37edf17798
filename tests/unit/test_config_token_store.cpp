// The token files of huggingface_hub: stored_tokens (configparser INI) and the active token.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>

#include "hubcache/config/config.hpp"
#include "hubcache/config/token_store.hpp"
#include "temp_dir.hpp"

using namespace hubcache;

TEST(TokenStore, StoredTokensPathIsNextToTheTokenFile) {
  EXPECT_EQ(Config::from_env(Environment(std::map<std::string, std::string>{{"HF_HOME", "/h"}})).stored_tokens_path,
            "/h/stored_tokens");
  EXPECT_EQ(Config::from_env(Environment(std::map<std::string, std::string>{{"HF_HOME", "/h"}, {"HF_TOKEN_PATH", "/t/tok"}}))
                .stored_tokens_path,
            "/t/stored_tokens");
}

TEST(TokenStore, WritesConfigparsersLayoutSortedAndPrivate) {
  test::TempDir dir;
  const std::string path = dir.path() + "/new/stored_tokens";
  ASSERT_TRUE(save_named_token(path, "work", "hf_w"));
  ASSERT_TRUE(save_named_token(path, "home", "hf_h"));
  ASSERT_TRUE(save_named_token(path, "work", "hf_w2"));  // replaced, not added
  EXPECT_EQ(test::read_file(path), "[home]\nhf_token = hf_h\n\n[work]\nhf_token = hf_w2\n\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir.path() + "/new").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto r = read_stored_tokens(path);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].name, "work");
  EXPECT_EQ((*r)[1].token, "hf_w2");
  EXPECT_EQ(*remove_named_token(path, "home"), true);
  EXPECT_EQ(*remove_named_token(path, "home"), false);
  EXPECT_EQ(test::read_file(path), "[work]\nhf_token = hf_w2\n\n");
}

TEST(TokenStore, RefusesWhatConfigparserCannotHoldAndNamesABrokenFile) {
  test::TempDir dir;
  const std::string path = dir.path() + "/stored_tokens";
  EXPECT_EQ(save_named_token(path, "a]b", "hf_x").error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(save_named_token(path, "a\nb", "hf_x").error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(save_named_token(path, "ok", "hf x").error().code, ErrorCode::InvalidArgument);
  EXPECT_TRUE(read_stored_tokens(path)->empty());  // missing file
  test::write_file(path, "hf_token = x\n");
  auto bad = read_stored_tokens(path);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::CacheCorrupted);
  EXPECT_NE(bad.error().message.find(path), std::string::npos);
}

TEST(TokenStore, ActiveTokenAndMask) {
  test::TempDir dir;
  const std::string tok = dir.path() + "/token";
  EXPECT_EQ(*read_active_token(tok), "");
  ASSERT_TRUE(write_active_token(tok, "hf_abcdefghijkl"));
  EXPECT_EQ(test::read_file(tok), "hf_abcdefghijkl");
  EXPECT_EQ(*read_active_token(tok), "hf_abcdefghijkl");
  EXPECT_EQ(mask_token("hf_abcdefghijkl"), "hf_****ijkl");
  EXPECT_EQ(mask_token("hf_short"), "****");
  EXPECT_EQ(*remove_token_file(tok), true);
  EXPECT_EQ(*remove_token_file(tok), false);
}
