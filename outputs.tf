output "lambda_function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "lambda_function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.this.arn
}

output "lambda_alias_arn" {
  description = "ARN of the 'live' alias with provisioned concurrency, or null when provisioned_concurrency is 0."
  value       = try(aws_lambda_alias.live[0].arn, null)
}

output "iam_role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "cloudwatch_log_group_name" {
  description = "Name of the function's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "security_group_id" {
  description = "ID of the function's security group (HTTPS egress only)."
  value       = aws_security_group.this.id
}

output "lambda_function_url" {
  description = "Function URL (AWS_IAM auth), or null when create_function_url is false."
  value       = try(aws_lambda_function_url.this[0].function_url, null)
}

output "bedrock_inference_profile_arns" {
  description = "Inference profiles the role may invoke: those among bedrock_model_id_candidates."
  value       = module.bedrock_access.profile_arns
}

output "invoke_command" {
  description = "Ready-to-run aws lambda invoke command with the seed's payload (AWS CLI v2)."
  value       = "aws lambda invoke --region ${var.aws_region} --function-name ${aws_lambda_function.this.function_name}${local.use_alias ? " --qualifier live" : ""} --cli-binary-format raw-in-base64-out --payload '{\"body\":\"{\\\"question\\\":\\\"Coco라는 반려동물을 키우고 있는 사람은 누구야?\\\"}\"}' response.json && cat response.json"
}

output "lambda_function_invoke_arn" {
  description = "ARN for an API Gateway AWS_PROXY integration URI: the 'live' alias's when provisioned concurrency is on, else the function's."
  value       = local.target_invoke_arn
}

output "bedrock_model_id" {
  description = "Model or inference-profile ID the function calls first in this Region (what resolve_model_id() picks)."
  value       = module.bedrock_access.called_model_id
}

output "bedrock_model_id_candidates" {
  description = "The IDs the function may call in this Region, in the order it falls back through them when Bedrock refuses one (bedrock_model_id first); the role may invoke exactly these."
  value       = module.bedrock_access.candidate_ids
}

output "dynamodb_table_name" {
  description = "Name of the conversation table (CONVERSATION_TABLE), or null when create_conversation_table is false."
  value       = try(aws_dynamodb_table.this[0].name, null)
}

output "dynamodb_table_arn" {
  description = "ARN of the conversation table, or null when create_conversation_table is false."
  value       = try(aws_dynamodb_table.this[0].arn, null)
}

output "dynamodb_limits_table_name" {
  description = "Name of the limits table (LIMITS_TABLE: rate-limit windows and the day's token count), or null when create_limits_table is false."
  value       = try(aws_dynamodb_table.limits[0].name, null)
}

output "dynamodb_limits_table_arn" {
  description = "ARN of the limits table, or null when create_limits_table is false."
  value       = try(aws_dynamodb_table.limits[0].arn, null)
}

output "lb_target_group_arn" {
  description = "ARN of the Lambda target group, or null when alb_listener_arn is not set."
  value       = try(aws_lb_target_group.this[0].arn, null)
}

output "sns_topic_arn" {
  description = "SNS topic the alarms notify (created or given), or null."
  value       = try(local.alarm_actions[0], null)
}

output "cloudwatch_dashboard_name" {
  description = "Name of the CloudWatch dashboard, or null when create_dashboard is false."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_name, null)
}
