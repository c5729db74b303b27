output "base_model_id" {
  description = "The model ID without a profile prefix."
  value       = local.bedrock_base_model_id
}

output "prefixes" {
  description = "Profile prefixes the function may resolve to from this Region."
  value       = local.bedrock_prefixes
}

output "profile_arns" {
  description = "Inference-profile ARNs in the source Region the role may invoke."
  value       = local.bedrock_profile_arns
}

output "destination_model_arns" {
  description = "Foundation-model ARNs (any Region) the profiles route to; the root policy allows them only through the profiles."
  value       = local.bedrock_destination_model_arns
}

output "in_region_model_arn" {
  description = "Foundation-model ARN in the source Region, for on-demand calls (inference_profile = none)."
  value       = "arn:${var.partition}:bedrock:${var.region}::foundation-model/${local.bedrock_base_model_id}"
}

output "called_model_id" {
  description = "The model or inference-profile ID the function calls from this Region (resolve_model_id())."
  value       = local.called_model_id
}
