#include "hubcache/stores/ollama_format.hpp"

#include <cctype>
#include <nlohmann/json.hpp>

#include "hubcache/util/digest.hpp"
#include "hubcache/util/text.hpp"

namespace hubcache::stores {
namespace {

bool head_ok(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Ollama's isValidPart: `what` names the part in the message.
Result<void> check_part(std::string_view part, const char* what, std::size_t max, bool dot, bool colon) {
  if (part.empty() || part.size() > max)
    return fail(ErrorCode::InvalidArgument,
                std::string("the ") + what + " of an Ollama model name must be 1 to " + std::to_string(max) + " characters");
  if (!head_ok(part.front()))
    return fail(ErrorCode::InvalidArgument,
                std::string("the ") + what + " '" + std::string(part) + "' must start with a letter, a digit or '_'");
  for (char c : part)
    if (!(head_ok(c) || c == '-' || (dot && c == '.') || (colon && c == ':')))
      return fail(ErrorCode::InvalidArgument, std::string("the ") + what + " '" + std::string(part) +
                                                  "' may only hold letters, digits, '_', '-'" + (dot ? ", '.'" : "") +
                                                  (colon ? ", ':'" : ""));
  return {};
}

}  // namespace

Result<OllamaName> parse_ollama_name(std::string_view name) {
  OllamaName out{
      std::string(k_ollama_default_host), std::string(k_ollama_default_namespace), {}, std::string(k_ollama_default_tag)};
  std::string_view rest = name;
  // The tag follows the last ':' after the last '/' (a host may carry a port).
  const auto slash = rest.rfind('/');
  const auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    out.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
  }
  const auto parts = split(rest, '/');
  if (parts.size() > 3)
    return fail(ErrorCode::InvalidArgument, "'" + std::string(name) + "' has too many parts: [host/][namespace/]model[:tag]");
  out.model = std::string(parts.back());
  if (parts.size() >= 2) out.ns = std::string(parts[parts.size() - 2]);
  if (parts.size() == 3) out.host = std::string(parts[0]);
  HUBCACHE_TRY(check_part(out.host, "host", 350, true, true));
  HUBCACHE_TRY(check_part(out.ns, "namespace", 80, false, false));
  HUBCACHE_TRY(check_part(out.model, "model", 80, true, false));
  HUBCACHE_TRY(check_part(out.tag, "tag", 80, true, false));
  return out;
}

std::string ollama_manifest_path(const std::string& models_dir, const OllamaName& n) {
  return models_dir + "/manifests/" + n.host + "/" + n.ns + "/" + n.model + "/" + n.tag;
}

std::string ollama_blob_path(const std::string& models_dir, std::string_view sha256_hex) {
  return models_dir + "/blobs/sha256-" + std::string(sha256_hex);
}

Result<OllamaManifest> parse_ollama_manifest(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  auto unknown = [](const std::string& why) {
    return fail(ErrorCode::InvalidArgument, "not a manifest format this version knows (" + why + ")");
  };
  if (j.is_discarded() || !j.is_object()) return unknown("not a JSON object");
  const auto version = j.find("schemaVersion");
  if (version == j.end() || !version->is_number_integer() || version->get<long long>() != 2)
    return unknown("schemaVersion is not 2");
  if (const auto type = j.find("mediaType"); type != j.end()) {
    if (!type->is_string() || (*type != "application/vnd.docker.distribution.manifest.v2+json" &&
                               *type != "application/vnd.oci.image.manifest.v1+json"))
      return unknown("mediaType " + type->dump());
  }
  auto layer = [&](const nlohmann::json& l, const std::string& where) -> Result<OllamaLayer> {
    if (!l.is_object()) return unknown(where + " is not an object");
    const auto type = l.find("mediaType"), digest = l.find("digest"), size = l.find("size");
    if (type == l.end() || !type->is_string()) return unknown(where + " has no mediaType");
    if (digest == l.end() || !digest->is_string()) return unknown(where + " has no digest");
    const std::string d = digest->get<std::string>();
    if (d.size() != 71 || d.compare(0, 7, "sha256:") != 0 || digest_kind_of(d.substr(7)) != DigestKind::Sha256)
      return unknown(where + " digest '" + d + "' is not sha256:<64 lower-case hex>");
    if (size == l.end() || !size->is_number_unsigned()) return unknown(where + " has no size");
    return OllamaLayer{type->get<std::string>(), d.substr(7), size->get<std::uint64_t>()};
  };
  OllamaManifest out;
  const auto config = j.find("config");
  if (config == j.end()) return unknown("no config");
  HUBCACHE_TRY_ASSIGN(out.config, layer(*config, "the config"));
  const auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array()) return unknown("no layers array");
  for (std::size_t i = 0; i < layers->size(); ++i) {
    HUBCACHE_TRY_ASSIGN(auto l, layer((*layers)[i], "layer " + std::to_string(i)));
    out.layers.push_back(std::move(l));
  }
  return out;
}

std::string ollama_manifest_json(const OllamaLayer& config, const std::vector<OllamaLayer>& layers) {
  // nlohmann's ordered_json keeps the field order of Ollama's Go structs.
  auto layer = [](const OllamaLayer& l) {
    return nlohmann::ordered_json{{"mediaType", l.media_type}, {"digest", "sha256:" + l.sha256_hex}, {"size", l.size}};
  };
  nlohmann::ordered_json j;
  j["schemaVersion"] = 2;
  j["mediaType"] = "application/vnd.docker.distribution.manifest.v2+json";
  j["config"] = layer(config);
  j["layers"] = nlohmann::ordered_json::array();
  for (const auto& l : layers) j["layers"].push_back(layer(l));
  return j.dump() + "\n";
}

std::string ollama_gguf_config_json(std::string_view os, std::string_view architecture) {
  nlohmann::ordered_json j;
  j["model_format"] = "gguf";
  j["model_family"] = "";
  j["model_families"] = nullptr;
  j["model_type"] = "";
  j["file_type"] = "";
  j["architecture"] = architecture;
  j["os"] = os;
  return j.dump();
}

}  // namespace hubcache::stores
