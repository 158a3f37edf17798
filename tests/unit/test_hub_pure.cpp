#include <gtest/gtest.h>

#include "hubcache/hub/hub.hpp"

using namespace hubcache;
using namespace hubcache::hub;

namespace {
const RepoRef k_model{RepoType::Model, "org/name"};
http::Response response(int status, std::vector<std::pair<std::string, std::string>> headers, std::string body = {}) {
  http::Response r;
  r.status = status;
  for (auto& [k, v] : headers) r.headers.add(k, v);
  r.body = std::move(body);
  return r;
}
}  // namespace

TEST(HubUrls, PathEncodingVector13_4) {
  EXPECT_EQ(resolve_url("https://huggingface.co", RepoRef{RepoType::Model, "user/repo"}, "main",
                        "subfolder/to?/awful?filename%you:should,never.give"),
            "https://huggingface.co/user/repo/resolve/main/subfolder/to%3F/awful%3Ffilename%25you%3Ashould%2Cnever.give");
  EXPECT_EQ(encode_path("a b+c#d~e_f.g-h"), "a%20b%2Bc%23d~e_f.g-h");
  EXPECT_EQ(encode_path("\xc3\xa9"), "%C3%A9");
}

TEST(HubUrls, RevisionEncodingAndRepoTypes) {  // vector 3
  EXPECT_EQ(resolve_url("http://e", k_model, "refs/pr/1", "config.json"), "http://e/org/name/resolve/refs%2Fpr%2F1/config.json");
  EXPECT_EQ(resolve_url("http://e", RepoRef{RepoType::Dataset, "glue"}, "main", "x"), "http://e/datasets/glue/resolve/main/x");
  EXPECT_EQ(resolve_url("http://e", RepoRef{RepoType::Space, "a/b"}, "v1.0", "x"), "http://e/spaces/a/b/resolve/v1.0/x");
  EXPECT_EQ(repo_info_url("http://e", RepoRef{RepoType::Dataset, "a/b"}, std::string_view("refs/convert/parquet")),
            "http://e/api/datasets/a/b/revision/refs%2Fconvert%2Fparquet");
  EXPECT_EQ(repo_info_url("http://e", k_model, std::nullopt), "http://e/api/models/org/name");
  EXPECT_EQ(tree_url("http://e", k_model, "main", "", true, false),
            "http://e/api/models/org/name/tree/main?recursive=true&expand=false");
  EXPECT_EQ(tree_url("http://e", k_model, "main", "a/b", false, true),
            "http://e/api/models/org/name/tree/main/a%2Fb?recursive=false&expand=true");
  EXPECT_EQ(paths_info_url("http://e", RepoRef{RepoType::Space, "a/b"}, "main"), "http://e/api/spaces/a/b/paths-info/main");
}

TEST(HubUrls, LinkNextVector13_36) {
  EXPECT_EQ(parse_link_next("<https://h/api/models/x/tree/main?cursor=2>; rel=\"next\""),
            "https://h/api/models/x/tree/main?cursor=2");
  EXPECT_EQ(parse_link_next("<https://h/p1>; rel=\"prev\", <https://h/p3>; rel=\"next\""), "https://h/p3");
  EXPECT_FALSE(parse_link_next("<https://h/p1>; rel=\"prev\""));
  EXPECT_FALSE(parse_link_next(""));
}

// The Hub's Xet resolve answer (research note xet.md 1.1): two rels in one Link header.
TEST(HubUrls, LinkRelFindsXetRoutes) {
  const std::string link =
      "<https://huggingface.co/api/models/o/n/xet-read-token/abc>; rel=\"xet-auth\", "
      "<https://cas-server.xethub.hf.co/v1/reconstructions/e0aa>; rel=\"xet-reconstruction-info\"";
  EXPECT_EQ(parse_link_rel(link, "xet-auth"), "https://huggingface.co/api/models/o/n/xet-read-token/abc");
  EXPECT_EQ(parse_link_rel(link, "xet-reconstruction-info"), "https://cas-server.xethub.hf.co/v1/reconstructions/e0aa");
  EXPECT_EQ(parse_link_rel("</t>; rel=xet-auth", "xet-auth"), "/t");
  // A rel that only starts with the name is another rel.
  EXPECT_FALSE(parse_link_rel("</t>; rel=\"xet-auth-2\"", "xet-auth"));
  EXPECT_FALSE(parse_link_rel("</t>; rel=xet-authx", "xet-auth"));
  EXPECT_FALSE(parse_link_rel(link, "next"));
}

TEST(HubJson, TreeEntries) {
  auto r = parse_tree_entries(R"([
    {"type":"file","oid":"a1","size":12,"path":"config.json"},
    {"type":"directory","oid":"d1","size":0,"path":"sub"},
    {"type":"file","oid":"b2","size":548123560,"path":"sub/model.bin",
     "lfs":{"oid":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":548123560,"pointerSize":134},
     "xetHash":"abc"}])");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].etag(), "a1");
  EXPECT_EQ((*r)[1].type, "directory");
  EXPECT_EQ((*r)[2].etag(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ((*r)[2].size, 548123560u);
  EXPECT_EQ((*r)[2].xet_hash, "abc");
  EXPECT_FALSE(parse_tree_entries("{}"));
  EXPECT_FALSE(parse_tree_entries(R"([{"type":"file","path":"x"}])"));  // no oid/size
  EXPECT_FALSE(parse_tree_entries("not json"));
}

TEST(HubJson, RepoInfoValidatesSha) {
  auto ok = parse_repo_info(
      R"({"id":"org/name","sha":"0123456789abcdef0123456789abcdef01234567","private":true,"gated":"manual","siblings":[{"rfilename":"a"}]})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->sha, "0123456789abcdef0123456789abcdef01234567");
  EXPECT_TRUE(ok->is_private);
  EXPECT_EQ(ok->gated, "manual");
  EXPECT_EQ(ok->siblings, std::vector<std::string>{"a"});
  auto hostile = parse_repo_info(R"({"sha":"../../x"})");  // vector 39
  ASSERT_FALSE(hostile);
  EXPECT_NE(hostile.error().message.find("invalid commit hash"), std::string::npos);
  EXPECT_FALSE(parse_repo_info(R"({"id":"x"})"));
}

TEST(HubErrors, MappingOrderSpec7_7) {
  const std::string resolve = "http://e/org/name/resolve/main/x";
  EXPECT_EQ(map_http_error(response(404, {{"X-Error-Code", "RevisionNotFound"}}), resolve, k_model).code,
            ErrorCode::RevisionNotFound);
  auto entry = map_http_error(response(404, {{"X-Error-Code", "EntryNotFound"}}), resolve, k_model);
  EXPECT_EQ(entry.code, ErrorCode::EntryNotFound);
  EXPECT_NE(entry.message.find("URL: " + resolve), std::string::npos);
  EXPECT_EQ(map_http_error(response(403, {{"X-Error-Code", "GatedRepo"}}), resolve, k_model).code, ErrorCode::Gated);
  EXPECT_EQ(map_http_error(response(404, {{"X-Error-Code", "RepoNotFound"}}), resolve, k_model).code, ErrorCode::RepoNotFound);
  // A 401 on resolve or /api/models is "repo not found (or private)"...
  auto priv = map_http_error(response(401, {}), resolve, k_model);
  EXPECT_EQ(priv.code, ErrorCode::RepoNotFound);
  EXPECT_NE(priv.message.find("Model 'org/name' not found."), std::string::npos);
  EXPECT_NE(priv.message.find("HF_TOKEN"), std::string::npos);
  // The Hub's (and the mirror's) anonymous 401 RepoNotFound: its "Invalid username or password."
  // is replaced by what it means.
  auto anon =
      map_http_error(response(401, {{"X-Error-Code", "RepoNotFound"}, {"X-Error-Message", "Invalid username or password."}},
                              R"({"error":"Invalid username or password."})"),
                     resolve, k_model);
  EXPECT_EQ(anon.code, ErrorCode::RepoNotFound);
  EXPECT_NE(anon.message.find("Model 'org/name' not found. (The server answers so for a private repo too when no token that may "
                              "read it is sent.)"),
            std::string::npos)
      << anon.message;
  EXPECT_EQ(anon.message.find("username"), std::string::npos) << anon.message;
  EXPECT_NE(anon.message.find("HF_TOKEN"), std::string::npos) << anon.message;
  EXPECT_EQ(anon.http->server_message, "Invalid username or password.");
  // Other words of the server are kept.
  auto worded = map_http_error(response(401, {{"X-Error-Code", "RepoNotFound"}, {"X-Error-Message", "Not on this mirror"}}),
                               resolve, k_model);
  EXPECT_NE(worded.message.find("Not on this mirror"), std::string::npos) << worded.message;
  // The same for every repo type's API, kernels included.
  const RepoRef kernel{RepoType::Kernel, "org/kern"};
  EXPECT_EQ(map_http_error(response(401, {}), "https://huggingface.co/api/kernels/org/kern", kernel).code,
            ErrorCode::RepoNotFound);
  EXPECT_EQ(
      map_http_error(response(401, {}), "https://huggingface.co/api/datasets/org/d", RepoRef{RepoType::Dataset, "org/d"}).code,
      ErrorCode::RepoNotFound);
  // ...unless the message says the token itself is bad.
  EXPECT_EQ(
      map_http_error(response(401, {{"X-Error-Message", "Invalid credentials in Authorization header"}}), resolve, k_model).code,
      ErrorCode::Unauthorized);
  EXPECT_EQ(map_http_error(response(403, {{"X-Error-Message", "Access to this resource is disabled."}}), resolve, k_model).code,
            ErrorCode::PermissionDenied);
  auto limited = map_http_error(response(429, {}), resolve, k_model);
  EXPECT_EQ(limited.code, ErrorCode::RateLimited);
  EXPECT_TRUE(limited.is_transient());
  auto five = map_http_error(response(503, {{"X-Request-Id", "rid-1"}}, R"({"error":"overloaded"})"), resolve, k_model);
  EXPECT_EQ(five.code, ErrorCode::Http);
  EXPECT_TRUE(five.is_transient());
  EXPECT_NE(five.message.find("Request ID: rid-1"), std::string::npos);
  EXPECT_NE(five.message.find("overloaded"), std::string::npos);
  ASSERT_TRUE(five.http);
  EXPECT_EQ(five.http->status, 503);
  auto html = map_http_error(response(500, {}, "<html><body>oops</body></html>"), resolve, k_model);
  EXPECT_EQ(html.message.find("<html>"), std::string::npos);
  auto dataset = map_http_error(response(404, {{"X-Error-Code", "RepoNotFound"}}), "http://e/api/datasets/a/b",
                                RepoRef{RepoType::Dataset, "a/b"});
  EXPECT_NE(dataset.message.find("Dataset 'a/b' not found."), std::string::npos);
}

TEST(HubErrors, ServerMessagesAreDeduplicatedAndRedacted) {
  auto e = map_http_error(
      response(400, {{"X-Error-Message", "bad thing"}}, R"({"error":["bad thing","token hf_abcdefghijkl leaked"]})"),
      "http://e/api/models/org/name", k_model);
  EXPECT_EQ(e.message.find("bad thing"), e.message.rfind("bad thing"));  // once
  EXPECT_EQ(e.message.find("abcdefghijkl"), std::string::npos);
}

TEST(HubApi, AuthOnlyToEndpointOrigin) {  // docs/hub-protocol.md#redirects, vector 14
  HubOptions o;
  o.endpoint = "http://127.0.0.1:8080/";
  o.token = "hf_secret";
  HubApi api(o, nullptr);
  EXPECT_EQ(api.options().endpoint, "http://127.0.0.1:8080");
  EXPECT_EQ(api.headers_for("http://127.0.0.1:8080/org/name/resolve/main/x").get("authorization"), "Bearer hf_secret");
  EXPECT_FALSE(api.headers_for("http://127.0.0.1:8081/cdn/x").has("authorization"));
  EXPECT_FALSE(api.headers_for("https://cdn-lfs.hf.co/x").has("authorization"));
  EXPECT_TRUE(api.headers_for("http://127.0.0.1:8080/x").has("user-agent"));
  // The default User-Agent carries the project's version (cmake/version.hpp.in), not a copy of it.
  EXPECT_EQ(api.headers_for("http://127.0.0.1:8080/x").get("user-agent"), std::string("hubcache/") + k_version);
}
