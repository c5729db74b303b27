output "base_model_id" {
  description = "The model ID without a profile prefix."
  value       = local.bedrock_base_model_id
}

output "candidate_ids" {
  description = "The model IDs the function may call from this Region, in the order it falls back through them when Bedrock refuses one (candidate_ids())."
  value       = local.candidate_ids
}

output "prefixes" {
  description = "Profile prefixes among the candidates, in their order."
  value       = local.bedrock_prefixes
}

output "profile_arns" {
  description = "Inference-profile ARNs in the source Region the role may invoke: the candidates' profiles."
  value       = local.bedrock_profile_arns
}

output "destination_model_arns" {
  description = "Foundation-model ARNs (any Region) the profiles route to; the root policy allows them only through the profiles."
  value       = local.bedrock_destination_model_arns
}

output "in_region_model_arns" {
  description = "Foundation-model ARN in the source Region, for on-demand calls: one when the base model ID is a candidate, else none."
  value       = local.in_region_model_arns
}

output "called_model_id" {
  description = "The model or inference-profile ID the function calls first from this Region (resolve_model_id(); the first candidate)."
  value       = local.candidate_ids[0]
}
