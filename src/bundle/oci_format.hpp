#pragma once
// The OCI bundle's names: OCI image layout and ModelPack media types (modelpack/model-spec
// specs-go/v1), and hubcache's annotations that make an import restore the exact cache entries.
#include <string>

#include "hubcache/core/repo_id.hpp"

namespace hubcache::bundle::detail {

inline constexpr const char* k_media_index = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* k_media_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* k_artifact_model = "application/vnd.cncf.model.manifest.v1+json";
inline constexpr const char* k_media_config = "application/vnd.cncf.model.config.v1+json";
inline constexpr const char* k_media_weight = "application/vnd.cncf.model.weight.v1.raw";
inline constexpr const char* k_media_weight_config = "application/vnd.cncf.model.weight.config.v1.raw";
inline constexpr const char* k_media_doc = "application/vnd.cncf.model.doc.v1.raw";
inline constexpr const char* k_media_code = "application/vnd.cncf.model.code.v1.raw";
inline constexpr const char* k_media_dataset = "application/vnd.cncf.model.dataset.v1.raw";

inline constexpr const char* k_ann_filepath = "org.cncf.model.filepath";  // ModelPack: the file's repo path
inline constexpr const char* k_ann_git_oid = "dev.hubcache.git-oid";      // the git blob id (the Hub's tree `oid`)
inline constexpr const char* k_ann_lfs = "dev.hubcache.lfs";              // "true": LFS, blob name = layer digest
inline constexpr const char* k_ann_repo_type = "dev.hubcache.repo-type";
inline constexpr const char* k_ann_repo_id = "dev.hubcache.repo-id";
inline constexpr const char* k_ann_commit = "dev.hubcache.commit";
inline constexpr const char* k_ann_lock = "dev.hubcache.lock";  // index.json: the lockfile's text

/// The ModelPack layer type of a repo file, by its name (weights, configs, docs, code; every file of
/// a dataset repo is a dataset layer).
const char* layer_media_type(const RepoRef& repo, const std::string& path);

}  // namespace hubcache::bundle::detail
