# Bedrock resources the function's role may invoke for one model from one Region.
# No provider and no data sources: the tests evaluate it offline with `terraform apply`.

locals {
  profile_names = ["us", "eu", "apac", "jp", "au", "us-gov", "global"]

  # Inference profiles. Keep in step with PROFILE_SOURCE_REGIONS in lambda_function.py (a test
  # compares them): the geographies a source Region may call, and where each geography routes.
  profile_geographies_by_region = {
    "us-east-1"      = ["us"]
    "us-east-2"      = ["us"]
    "us-west-1"      = ["us"]
    "us-west-2"      = ["us"]
    "ca-central-1"   = ["us"]
    "eu-central-1"   = ["eu"]
    "eu-central-2"   = ["eu"]
    "eu-west-1"      = ["eu"]
    "eu-west-2"      = ["eu"]
    "eu-west-3"      = ["eu"]
    "eu-north-1"     = ["eu"]
    "eu-south-1"     = ["eu"]
    "eu-south-2"     = ["eu"]
    "ap-northeast-1" = ["jp", "apac"]
    "ap-northeast-2" = ["apac"]
    "ap-northeast-3" = ["jp", "apac"]
    "ap-south-1"     = ["apac"]
    "ap-south-2"     = ["apac"]
    "ap-southeast-1" = ["apac"]
    "ap-southeast-2" = ["au", "apac"]
    "ap-southeast-3" = ["apac"]
    "ap-southeast-4" = ["au", "apac"]
    "ap-southeast-5" = ["apac"]
    "ap-southeast-7" = ["apac"]
    "ap-east-2"      = ["apac"]
    "us-gov-east-1"  = ["us-gov"]
    "us-gov-west-1"  = ["us-gov"]
  }
  profile_destination_regions = {
    "us"     = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1"]
    "eu"     = ["eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-north-1", "eu-south-1", "eu-south-2"]
    "apac"   = ["ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ap-east-2"]
    "jp"     = ["ap-northeast-1", "ap-northeast-3"]
    "au"     = ["ap-southeast-2", "ap-southeast-4"]
    "us-gov" = ["us-gov-east-1", "us-gov-west-1"]
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
  # A global profile routes to any commercial Region: its model ARN carries no Region.
  bedrock_destination_model_arns = distinct(concat(
    flatten([
      for prefix in local.bedrock_prefixes : [
        for region in lookup(local.profile_destination_regions, prefix, []) :
        "arn:${var.partition}:bedrock:${region}::foundation-model/${local.bedrock_base_model_id}"
      ]
    ]),
    contains(local.bedrock_prefixes, "global") ? [
      "arn:${var.partition}:bedrock:::foundation-model/${local.bedrock_base_model_id}",
      "arn:${var.partition}:bedrock:*::foundation-model/${local.bedrock_base_model_id}",
    ] : [],
  ))

}
