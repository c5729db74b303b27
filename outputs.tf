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
  description = "Inference profiles the role may invoke; the function picks one of them at run time."
  value       = module.bedrock_access.profile_arns
}

output "invoke_command" {
  description = "Ready-to-run aws lambda invoke command with the seed's payload (AWS CLI v2)."
  value       = "aws lambda invoke --region ${var.aws_region} --function-name ${aws_lambda_function.this.function_name}${local.use_alias ? " --qualifier live" : ""} --cli-binary-format raw-in-base64-out --payload '{\"body\":\"{\\\"question\\\":\\\"Coco라는 반려동물을 키우고 있는 사람은 누구야?\\\"}\"}' response.json && cat response.json"
}
