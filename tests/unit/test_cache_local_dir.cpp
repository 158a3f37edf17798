// The --local-dir metadata format (cache/local_dir.hpp) against values huggingface_hub produces:
// the temp-file name of _local_folder.py's get_local_download_paths (computed with Python's
// hashlib and base64) and Python's float repr of the timestamp.
#include <gtest/gtest.h>

#include "hubcache/cache/local_dir.hpp"

using namespace hubcache;

TEST(LocalDirLayout, NamesFollowThePythonClient) {
  const LocalDirLayout local("/w/model");
  EXPECT_EQ(local.meta_dir(), "/w/model/.cache/huggingface");
  EXPECT_EQ(local.trees_dir(), "/w/model/.cache/huggingface/trees");
  EXPECT_EQ(local.download_dir(), "/w/model/.cache/huggingface/download");
  EXPECT_EQ(local.metadata_path("sub/model.safetensors"), "/w/model/.cache/huggingface/download/sub/model.safetensors.metadata");
  EXPECT_EQ(local.lock_path("sub/model.safetensors"), "/w/model/.cache/huggingface/download/sub/model.safetensors.lock");
  // base64.urlsafe_b64encode(hashlib.sha1(b"model.safetensors.metadata").digest())
  const std::string etag(64, 'a');
  EXPECT_EQ(local.temp_path("sub/model.safetensors", etag),
            "/w/model/.cache/huggingface/download/sub/xGOKKLRSlIhH692hSVvI1-gpoa8=." + etag + ".incomplete");
  EXPECT_EQ(local.temp_path("config.json", "e1"),
            "/w/model/.cache/huggingface/download/8_PA_wEVGiVa2goH2H4KQOQpvVY=.e1.incomplete");
}

TEST(LocalDirMetadata, WritesThreeLinesWithPythonsFloatRepr) {
  const std::string commit(40, 'c');
  EXPECT_EQ(format_local_metadata({commit, "etag1", 1700000000.5}), commit + "\netag1\n1700000000.5\n");
  EXPECT_EQ(format_local_metadata({commit, "etag1", 1700000000.0}), commit + "\netag1\n1700000000.0\n");
  EXPECT_EQ(format_local_metadata({commit, "e", 0.1 + 0.2}), commit + "\ne\n0.30000000000000004\n");
  EXPECT_EQ(format_local_metadata({commit, "e", 1733212345.1234567}), commit + "\ne\n1733212345.1234567\n");
  // repr switches to scientific notation outside [1e-4, 1e16), fixed (never "1.7e+09") inside.
  EXPECT_EQ(format_local_metadata({"c", "e", 1e16}), "c\ne\n1e+16\n");
  EXPECT_EQ(format_local_metadata({"c", "e", 1.5e-05}), "c\ne\n1.5e-05\n");
  EXPECT_EQ(format_local_metadata({"c", "e", 0.0001}), "c\ne\n0.0001\n");
  EXPECT_EQ(format_local_metadata({"c", "e", 0.0}), "c\ne\n0.0\n");
  EXPECT_EQ(format_local_metadata({"c", "e", 123456789012345678.0}), "c\ne\n1.2345678901234568e+17\n");
}

TEST(LocalDirMetadata, ParsesLikeReadDownloadMetadata) {
  auto m = parse_local_metadata("  abc \n\tetag \n1700000000.25\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->commit, "abc");
  EXPECT_EQ(m->etag, "etag");
  EXPECT_DOUBLE_EQ(m->timestamp, 1700000000.25);
  auto written = parse_local_metadata(format_local_metadata({"c", "e", 1733212345.1234567}));
  ASSERT_TRUE(written);
  EXPECT_EQ(written->timestamp, 1733212345.1234567);   // the repr round-trips exactly
  EXPECT_TRUE(parse_local_metadata("c\ne\n5"));        // no final newline: still three lines
  EXPECT_FALSE(parse_local_metadata("c\ne\n"));        // no timestamp
  EXPECT_FALSE(parse_local_metadata("c\ne\nsoon\n"));  // not a float
  EXPECT_FALSE(parse_local_metadata("c\ne\n5x\n"));
  EXPECT_FALSE(parse_local_metadata(""));
}

TEST(LocalDirMetadata, ARecordIsCurrentUntilTheFileIsMoreThanASecondNewer) {
  const LocalDownloadFileMetadata m{"c", "e", 1000.0};
  EXPECT_TRUE(local_metadata_is_current(m, 999.0));
  EXPECT_TRUE(local_metadata_is_current(m, 1001.0));
  EXPECT_FALSE(local_metadata_is_current(m, 1001.5));
}
