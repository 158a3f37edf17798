#pragma once
// Ollama's store format, for writing into it (hygiene's `ollama link`): names, paths and the JSON
// an `ollama pull` writes. Pure: no I/O. Facts in docs/stores.md (research: Ollama's
// types/model/name.go, manifest/paths.go, manifest/manifest.go WriteManifest, types/model/config.go).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/core/result.hpp"

namespace hubcache::stores {

inline constexpr std::string_view k_ollama_default_host = "registry.ollama.ai";
inline constexpr std::string_view k_ollama_default_namespace = "library";
inline constexpr std::string_view k_ollama_default_tag = "latest";
inline constexpr std::string_view k_ollama_model_media_type = "application/vnd.ollama.image.model";
inline constexpr std::string_view k_ollama_projector_media_type = "application/vnd.ollama.image.projector";

/// A model name split as Ollama stores it: manifests/<host>/<ns>/<model>/<tag>.
struct OllamaName {
  std::string host, ns, model, tag;
};

/// Parses "[host/][namespace/]model[:tag]" as Ollama does: missing parts take the defaults
/// (registry.ollama.ai, library, latest); each part starts with a letter, digit or '_' and goes on
/// with those, '-' and '.' ('.' not in the namespace, ':' only in the host); the host is 1-350
/// characters, the others 1-80. InvalidArgument naming the part that breaks a rule.
Result<OllamaName> parse_ollama_name(std::string_view name);

/// <models>/manifests/<host>/<ns>/<model>/<tag>
std::string ollama_manifest_path(const std::string& models_dir, const OllamaName& name);
/// <models>/blobs/sha256-<hex>
std::string ollama_blob_path(const std::string& models_dir, std::string_view sha256_hex);

struct OllamaLayer {
  std::string media_type;
  std::string sha256_hex;
  std::uint64_t size = 0;
};

/// A manifest as read back: the config blob, then the layers in order.
struct OllamaManifest {
  OllamaLayer config;
  std::vector<OllamaLayer> layers;
};

/// Parses a manifest's text as Ollama's manifest.Manifest reads it. InvalidArgument, saying what is
/// wrong, for anything this version does not know: not JSON, schemaVersion other than 2, a
/// mediaType other than Docker's v2 or OCI's image manifest, a layer without a string mediaType, a
/// "sha256:<64 lower-case hex>" digest or a size. Pure.
Result<OllamaManifest> parse_ollama_manifest(std::string_view text);

/// The manifest as Ollama's WriteManifest encodes it: compact JSON, schemaVersion 2, Docker's
/// manifest and config media types, then the layers in order, with a trailing newline.
std::string ollama_manifest_json(const OllamaLayer& config, const std::vector<OllamaLayer>& layers);

/// The smallest config blob Ollama runs a GGUF model with (ConfigV2: model_format "gguf"; the
/// family, type and file type are left empty, which Ollama accepts and fills from the GGUF when it
/// loads it), for the platform `os`/`architecture` ("linux", "amd64").
std::string ollama_gguf_config_json(std::string_view os, std::string_view architecture);

}  // namespace hubcache::stores
