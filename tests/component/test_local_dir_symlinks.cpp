// --local-dir never writes outside the local dir: a symlinked folder inside it (for the data
// files or the .cache/huggingface metadata), a symlink at a file's own name or at one of its
// temp names is refused with a message naming it; a folder swapped for a link during the
// download cannot redirect the file either.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "download_seams.hpp"
#include "download_fixture.hpp"
#include "hubcache/util/fs.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

struct LocalDirLinks : DownloadFixture {
  std::string local = dir / "local";
  std::string elsewhere = dir / "elsewhere";

  void SetUp() override {
    DownloadFixture::SetUp();
    ::mkdir(local.c_str(), 0755);
    ::mkdir(elsewhere.c_str(), 0755);
  }
  void link(const std::string& target, const std::string& at) { ASSERT_EQ(::symlink(target.c_str(), at.c_str()), 0) << at; }
  Result<SnapshotResult> snapshot() {
    Downloader d(options());
    SnapshotRequest r;
    r.repo_id = k_model.id;
    r.local_dir = local;
    return d.snapshot_download(r);
  }
  Result<FileResult> one(const std::string& file) {
    Downloader d(options());
    FileRequest f;
    f.repo_id = k_model.id;
    f.filename = file;
    f.local_dir = local;
    return d.download_file(f);
  }
  void expect_refused(const Error& e, const std::string& link_path, const std::string& points_to) {
    EXPECT_EQ(e.code, ErrorCode::InvalidPath);
    EXPECT_NE(e.message.find("'" + link_path + "' is a symbolic link (to '" + points_to + "')"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("never writes outside the local dir"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("download into another local dir"), std::string::npos) << e.message;
    EXPECT_EQ(e.remedy, Remedy::UseLocalDir);
    EXPECT_EQ(describe_tree(elsewhere), (std::map<std::string, std::string>{}));  // nothing landed outside
  }
};

}  // namespace

TEST_F(LocalDirLinks, ASymlinkedDataFolderIsRefused) {
  link(elsewhere, local + "/sub");
  auto r = snapshot();
  ASSERT_FALSE(r);
  expect_refused(r.error(), local + "/sub", elsewhere);
  EXPECT_NE(r.error().message.find("refusing to write 'sub/dir/notes.txt' into the local dir '" + local + "'"), std::string::npos)
      << r.error().message;
  auto f = one("sub/dir/notes.txt");
  ASSERT_FALSE(f);
  expect_refused(f.error(), local + "/sub", elsewhere);
}

TEST_F(LocalDirLinks, ADeeperSymlinkedFolderIsRefused) {
  ::mkdir((local + "/sub").c_str(), 0755);
  link(elsewhere, local + "/sub/dir");
  auto f = one("sub/dir/notes.txt");
  ASSERT_FALSE(f);
  expect_refused(f.error(), local + "/sub/dir", elsewhere);
}

TEST_F(LocalDirLinks, ASymlinkedMetadataFolderIsRefused) {
  for (const std::string rel : {".cache", ".cache/huggingface", ".cache/huggingface/download"}) {
    SCOPED_TRACE(rel);
    ASSERT_TRUE(fs::remove_all(local));
    ASSERT_TRUE(fs::make_dirs(fs::parent(local + "/" + rel)));
    link(elsewhere, local + "/" + rel);
    auto r = snapshot();
    ASSERT_FALSE(r);
    expect_refused(r.error(), local + "/" + rel, elsewhere);
    auto f = one("config.json");
    ASSERT_FALSE(f);
    expect_refused(f.error(), local + "/" + rel, elsewhere);
  }
}

TEST_F(LocalDirLinks, ASymlinkedMetadataSubfolderOfAFileIsRefused) {
  ASSERT_TRUE(fs::make_dirs(local + "/.cache/huggingface/download"));
  link(elsewhere, local + "/.cache/huggingface/download/sub");
  auto f = one("sub/dir/notes.txt");
  ASSERT_FALSE(f);
  expect_refused(f.error(), local + "/.cache/huggingface/download/sub", elsewhere);
  EXPECT_FALSE(exists(local + "/sub/dir/notes.txt"));
}

TEST_F(LocalDirLinks, ASymlinkAtTheFilesNameIsRefusedAndItsTargetKept) {
  write_file(elsewhere + "/victim.txt", "keep");
  link(elsewhere + "/victim.txt", local + "/config.json");
  auto f = one("config.json");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, ErrorCode::InvalidPath);
  EXPECT_NE(f.error().message.find("'" + local + "/config.json' is a symbolic link (to '" + elsewhere + "/victim.txt')"),
            std::string::npos)
      << f.error().message;
  EXPECT_NE(f.error().message.find("Remove the link"), std::string::npos) << f.error().message;
  EXPECT_EQ(read_file(elsewhere + "/victim.txt"), "keep");
  EXPECT_EQ(read_link(local + "/config.json"), elsewhere + "/victim.txt");
}

TEST_F(LocalDirLinks, PlantedLinksAtTempAndMetadataNamesAreRefused) {
  write_file(elsewhere + "/victim.txt", "keep");
  server.add_file(k_model, c1, "file.txt", "hello");
  ASSERT_TRUE(one("config.json"));  // the metadata folder exists now
  // file.txt's temp name (docs/cache-format.md#local-dir, see LocalDirTempNameVector13_29) and notes.txt's metadata.
  const std::string temp =
      local + "/.cache/huggingface/download/-cBLXcT-p5K-naX2rfKJhBZ6mEc=." + git_blob_sha1_hex("hello") + ".incomplete";
  for (const std::string& planted : {temp, local + "/.cache/huggingface/download/sub/dir/notes.txt.metadata"}) {
    SCOPED_TRACE(planted);
    ASSERT_TRUE(fs::make_dirs(fs::parent(planted)));
    link(elsewhere + "/victim.txt", planted);
  }
  auto file = one("file.txt");
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message.find("'" + temp + "' is a symbolic link"), std::string::npos) << file.error().message;
  auto notes = one("sub/dir/notes.txt");
  ASSERT_FALSE(notes);
  EXPECT_NE(notes.error().message.find("notes.txt.metadata' is a symbolic link"), std::string::npos) << notes.error().message;
  EXPECT_EQ(read_file(elsewhere + "/victim.txt"), "keep");
}

TEST_F(LocalDirLinks, AFolderSwappedForALinkDuringTheDownloadCannotRedirectIt) {
  auto o = options();
  bool swapped = false;
  detail::DownloadSeams seams;
  seams.write_fn = [&](int fd, const void* d, std::size_t n, off_t off) -> ssize_t {
    if (!swapped) {  // while the file downloads: its folder is moved away and a link takes its place
      swapped = true;
      std::rename((local + "/sub").c_str(), (local + "/sub.moved").c_str());
      ::mkdir((elsewhere + "/dir").c_str(), 0755);
      ::symlink(elsewhere.c_str(), (local + "/sub").c_str());
    }
    return ::pwrite(fd, d, n, off);
  };
  Downloader d(o);
  detail::set_download_seams(d, seams);
  FileRequest f;
  f.repo_id = k_model.id;
  f.filename = "sub/dir/notes.txt";
  f.local_dir = local;
  auto r = d.download_file(f);
  ASSERT_TRUE(swapped);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(exists(elsewhere + "/dir/notes.txt"));                 // not through the link
  EXPECT_EQ(read_file(local + "/sub.moved/dir/notes.txt"), "notes");  // into the folder that was opened
}

TEST_F(LocalDirLinks, RealFoldersStillWork) {
  ::mkdir((local + "/sub").c_str(), 0755);
  auto r = snapshot();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(local + "/sub/dir/notes.txt"), "notes");
  EXPECT_EQ(read_link(local + "/sub"), "");
}
