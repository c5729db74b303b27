# Bedrock resources the function's role may invoke for one model from one Region.
# No provider and no data sources: the tests evaluate it offline with `terraform apply`.

locals {
  profile_names = ["us", "eu", "apac", "jp", "au", "us-gov", "global"]

  # Inference profiles. Keep in step with PROFILE_SOURCE_REGIONS and MODEL_PROFILES in
  # genai/profiles.py (tests compare them, and this module's candidates with candidate_ids()): which source Regions may call each geography ("us+ca":
  # the newer US profiles also accept Canada), and which geographies have a profile for a model, in
  # the function's order of preference.
  profile_source_regions = {
    "us"     = ["us-east-1", "us-east-2", "us-west-1", "us-west-2"]
    "us+ca"  = ["ca-central-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2"]
    "eu"     = ["eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3"]
    "apac"   = ["ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7"]
    "jp"     = ["ap-northeast-1", "ap-northeast-3"]
    "au"     = ["ap-southeast-2", "ap-southeast-4"]
    "us-gov" = ["us-gov-east-1", "us-gov-west-1"]
  }
  model_profiles = {
    "anthropic.claude-3-haiku-20240307-v1:0"    = ["us", "eu", "apac", "us-gov"]
    "anthropic.claude-3-sonnet-20240229-v1:0"   = ["us", "eu", "apac"]
    "anthropic.claude-3-5-sonnet-20240620-v1:0" = ["us", "eu", "apac", "us-gov"]
    "anthropic.claude-3-5-sonnet-20241022-v2:0" = ["us", "eu", "apac"]
    "anthropic.claude-3-5-haiku-20241022-v1:0"  = ["us"]
    "anthropic.claude-3-7-sonnet-20250219-v1:0" = ["us", "eu", "apac", "us-gov"]
    "anthropic.claude-sonnet-4-20250514-v1:0"   = ["us", "eu", "apac", "global"]
    "anthropic.claude-opus-4-1-20250805-v1:0"   = ["us"]
    "anthropic.claude-haiku-4-5-20251001-v1:0"  = ["us+ca", "eu", "jp", "au", "global"]
    "anthropic.claude-sonnet-4-5-20250929-v1:0" = ["us+ca", "eu", "jp", "au", "us-gov", "global"]
    "anthropic.claude-opus-4-5-20251101-v1:0"   = ["us+ca", "eu", "global"]
    # The 4.6 models: jp. before apac. (Tokyo and Osaka are in both); Sonnet 4.6 has no apac. profile.
    "anthropic.claude-opus-4-6-v1" = ["us", "eu", "jp", "apac", "global"]
    "anthropic.claude-sonnet-4-6"  = ["us", "eu", "jp", "global"]
  }
  # A model not in the table: the Region's broad geography, as the function guesses.
  default_model_geographies = ["us", "eu", "apac", "us-gov", "global"]

  bedrock_model_parts   = split(".", var.model_id)
  bedrock_given_prefix  = contains(local.profile_names, local.bedrock_model_parts[0]) ? local.bedrock_model_parts[0] : null
  bedrock_base_model_id = local.bedrock_given_prefix == null ? var.model_id : join(".", slice(local.bedrock_model_parts, 1, length(local.bedrock_model_parts)))
  is_govcloud           = startswith(var.region, "us-gov-")

  # What resolve_model_id() returns for the base ID from this Region: the table's choice (a model
  # not in it: the Region's broad geography), else global. (commercial Regions), else the base ID.
  model_geographies = lookup(local.model_profiles, local.bedrock_base_model_id, local.default_model_geographies)
  region_geographies = [
    for geo in local.model_geographies : split("+", geo)[0]
    if geo != "global" && contains(lookup(local.profile_source_regions, geo, []), var.region)
  ]
  region_model_id = (
    length(local.region_geographies) > 0 ? "${local.region_geographies[0]}.${local.bedrock_base_model_id}" :
    contains(local.model_geographies, "global") && !local.is_govcloud ? "global.${local.bedrock_base_model_id}" :
    local.bedrock_base_model_id
  )

  # The ID the function calls first (resolve_model_id() with the configured override): an ID that
  # carries a prefix, or inference_profile = none, as given; a fixed prefix; else the Region's choice.
  called_model_id = (
    local.bedrock_given_prefix != null || var.inference_profile == "none" ? var.model_id :
    var.inference_profile != "auto" ? "${var.inference_profile}.${var.model_id}" :
    local.region_model_id
  )

  # candidate_ids(): the IDs the function tries, in order, when Bedrock refuses one as invalid or not
  # found. The first choice, the Region's own choice, global. (commercial Regions only), the base ID;
  # de-duplicated and cut to three (MAX_MODEL_ID_CANDIDATES).
  candidate_order = distinct(concat(
    [local.called_model_id, local.region_model_id],
    local.is_govcloud ? [] : ["global.${local.bedrock_base_model_id}"],
    [local.bedrock_base_model_id],
  ))
  candidate_ids = slice(local.candidate_order, 0, min(3, length(local.candidate_order)))

  # The role may invoke exactly the candidates: each inference profile among them ...
  bedrock_prefixes = [
    for id in local.candidate_ids : split(".", id)[0]
    if id != local.bedrock_base_model_id
  ]
  bedrock_profile_arns = [
    for prefix in local.bedrock_prefixes :
    "arn:${var.partition}:bedrock:${var.region}:${var.account_id}:inference-profile/${prefix}.${local.bedrock_base_model_id}"
  ]
  # ... the model wherever those profiles route: in Regions of their geography (or, for global, any
  # commercial Region) and AWS adds Regions over time, so the model in any Region, allowed only
  # through the profiles above (the bedrock:InferenceProfileArn condition in the root policy). A
  # global profile's model ARN may also carry no Region.
  bedrock_destination_model_arns = length(local.bedrock_prefixes) == 0 ? [] : concat(
    ["arn:${var.partition}:bedrock:*::foundation-model/${local.bedrock_base_model_id}"],
    contains(local.bedrock_prefixes, "global") ? ["arn:${var.partition}:bedrock:::foundation-model/${local.bedrock_base_model_id}"] : [],
  )
  # ... and the model in this Region (on demand) only when the base ID is a candidate.
  in_region_model_arns = contains(local.candidate_ids, local.bedrock_base_model_id) ? [
    "arn:${var.partition}:bedrock:${var.region}::foundation-model/${local.bedrock_base_model_id}"
  ] : []
}
