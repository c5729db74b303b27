# Bedrock resources the function's role may invoke for one model from one Region.
# No provider and no data sources: the tests evaluate it offline with `terraform apply`.

locals {
  profile_names = ["us", "eu", "apac", "jp", "au", "us-gov", "global"]

  # Inference profiles. Keep in step with PROFILE_SOURCE_REGIONS and MODEL_PROFILES in
  # lambda_function.py (tests compare them): which source Regions may call each geography ("us+ca":
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
  }
  # A model not in the table: the Region's broad geography, as the function guesses.
  default_model_geographies = ["us", "eu", "apac", "us-gov", "global"]

  # The geographies (profile prefixes) a source Region may call.
  profile_geographies_by_region = {
    for region in distinct(flatten(values(local.profile_source_regions))) :
    region => distinct([for geo, regions in local.profile_source_regions : split("+", geo)[0] if contains(regions, region)])
  }

  bedrock_model_parts   = split(".", var.model_id)
  bedrock_given_prefix  = contains(local.profile_names, local.bedrock_model_parts[0]) ? local.bedrock_model_parts[0] : null
  bedrock_base_model_id = local.bedrock_given_prefix == null ? var.model_id : join(".", slice(local.bedrock_model_parts, 1, length(local.bedrock_model_parts)))
  is_govcloud           = startswith(var.region, "us-gov-")

  # Every profile the function may resolve to from this Region (it picks one at run time).
  bedrock_prefixes = (
    local.bedrock_given_prefix != null ? [local.bedrock_given_prefix] :
    var.inference_profile == "none" ? [] :
    var.inference_profile != "auto" ? [var.inference_profile] :
    concat(lookup(local.profile_geographies_by_region, var.region, []), local.is_govcloud ? [] : ["global"])
  )
  bedrock_profile_arns = [
    for prefix in local.bedrock_prefixes :
    "arn:${var.partition}:bedrock:${var.region}:${var.account_id}:inference-profile/${prefix}.${local.bedrock_base_model_id}"
  ]
  # A profile routes to the model in Regions of its geography (or, for global, any commercial
  # Region) and AWS adds Regions over time: the model in any Region, allowed only through the
  # profiles above (the bedrock:InferenceProfileArn condition in the root policy). A global
  # profile's model ARN may also carry no Region.
  bedrock_destination_model_arns = length(local.bedrock_prefixes) == 0 ? [] : concat(
    ["arn:${var.partition}:bedrock:*::foundation-model/${local.bedrock_base_model_id}"],
    contains(local.bedrock_prefixes, "global") ? ["arn:${var.partition}:bedrock:::foundation-model/${local.bedrock_base_model_id}"] : [],
  )

  # What resolve_model_id() returns from this Region: the ID the function calls.
  model_geographies = lookup(local.model_profiles, var.model_id, local.default_model_geographies)
  region_geographies = [
    for geo in local.model_geographies : split("+", geo)[0]
    if geo != "global" && contains(lookup(local.profile_source_regions, geo, []), var.region)
  ]
  called_model_id = (
    local.bedrock_given_prefix != null || var.inference_profile == "none" ? var.model_id :
    var.inference_profile != "auto" ? "${var.inference_profile}.${var.model_id}" :
    length(local.region_geographies) > 0 ? "${local.region_geographies[0]}.${var.model_id}" :
    contains(local.model_geographies, "global") && !local.is_govcloud ? "global.${var.model_id}" :
    var.model_id
  )
}
