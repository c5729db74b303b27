provider "aws" {
  region  = var.aws_region
  profile = var.aws_profile

  default_tags {
    tags = merge(var.tags, { Layer = "06-lambda-genai" })
  }
}

locals {
  name       = "${var.name_prefix}-${var.environment}-genai"
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id
  log_group  = "/aws/lambda/${local.name}"
  use_alias  = var.provisioned_concurrency > 0

  # Exactly the variables lambda_function.py reads through _env() (a test compares the two).
  lambda_environment = {
    DB_CLUSTER_ARN            = local.db_cluster_arn
    DB_SECRET_ARN             = local.db_secret_arn
    DB_NAME                   = var.db_name
    BEDROCK_MODEL_ID          = var.bedrock_model_id
    BEDROCK_INFERENCE_PROFILE = var.bedrock_inference_profile
    MAX_TOOL_ROUNDS           = tostring(var.max_tool_rounds)
    MAX_OUTPUT_TOKENS         = tostring(var.max_output_tokens)
    METRICS_NAMESPACE         = "PetClinic/GenAI" # the Terraform branch may make this a variable
  }

  # AWS managed policies attached to the role. These are the only "*" resources the function
  # gets, each because AWS offers no narrower resource for the action:
  managed_policy_arns = merge(
    # ENI create/describe/delete for the VPC attachment (Lambda manages the ENIs).
    { eni = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaENIManagementAccess" },
    # X-Ray PutTraceSegments/PutTelemetryRecords accept no resource ARN.
    var.tracing_mode == "Active" ? { xray = "arn:${local.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess" } : {},
  )

  vpc_endpoint_services = var.create_vpc_endpoints ? toset(["rds-data", "bedrock-runtime", "secretsmanager", "logs"]) : toset([])
}

###############################################################################
# IAM
###############################################################################

# Which Bedrock ARNs the role may invoke: a provider-free module, so the tests can evaluate it
# offline for every Region and model and compare it with lambda_function.resolve_model_id().
module "bedrock_access" {
  source = "./modules/bedrock-access"

  partition         = local.partition
  region            = local.region
  account_id        = local.account_id
  model_id          = var.bedrock_model_id
  inference_profile = var.bedrock_inference_profile
}

resource "aws_iam_role" "this" {
  name               = "${local.name}-role"
  description        = "Execution role of the ${local.name} Lambda function"
  assume_role_policy = data.aws_iam_policy_document.assume_role.json
}

resource "aws_iam_role_policy" "this" {
  name   = "${local.name}-access"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_iam_role_policy_attachment" "managed" {
  for_each = local.managed_policy_arns

  role       = aws_iam_role.this.name
  policy_arn = each.value
}

###############################################################################
# Network: HTTPS out only (Data API, Bedrock, Secrets Manager, Logs). No ingress.
###############################################################################

resource "aws_security_group" "this" {
  name        = "${local.name}-sg"
  description = "${local.name} Lambda: HTTPS egress only"
  vpc_id      = local.vpc_id

  egress {
    description = "HTTPS to AWS APIs (through NAT or the VPC endpoints)"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "endpoints" {
  count = var.create_vpc_endpoints ? 1 : 0

  name        = "${local.name}-endpoints-sg"
  description = "${local.name} interface endpoints: HTTPS from the function only"
  vpc_id      = local.vpc_id

  ingress {
    description     = "HTTPS from the ${local.name} function"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    security_groups = [aws_security_group.this.id]
  }
}

resource "aws_vpc_endpoint" "this" {
  for_each = local.vpc_endpoint_services

  vpc_id              = local.vpc_id
  service_name        = "com.amazonaws.${local.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = local.subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true
}

###############################################################################
# Logs
###############################################################################

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
}

###############################################################################
# The function
###############################################################################

resource "aws_lambda_function" "this" {
  function_name    = local.name
  description      = "PetClinic assistant: Claude on Bedrock over the RDS Data API"
  role             = aws_iam_role.this.arn
  filename         = data.archive_file.this.output_path
  source_code_hash = data.archive_file.this.output_base64sha256
  handler          = "lambda_function.lambda_handler"
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  memory_size      = var.lambda_memory_size
  timeout          = var.lambda_timeout
  publish          = local.use_alias
  kms_key_arn      = var.lambda_kms_key_arn

  reserved_concurrent_executions = var.reserved_concurrent_executions

  environment {
    variables = local.lambda_environment
  }

  vpc_config {
    subnet_ids         = local.subnet_ids
    security_group_ids = [aws_security_group.this.id]
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this.name
    application_log_level = var.application_log_level
    system_log_level      = var.system_log_level
  }

  tracing_config {
    mode = var.tracing_mode
  }

  lifecycle {
    precondition {
      condition     = local.vpc_id != null && length(coalesce(local.subnet_ids, [])) > 0
      error_message = "No VPC or private subnets: the network layer's state has no vpc_id/private_app_subnet_ids outputs; set vpc_id and private_subnet_ids."
    }
    precondition {
      condition     = can(regex("^arn:aws[a-z-]*:rds:[a-z0-9-]+:[0-9]{12}:cluster:", local.db_cluster_arn))
      error_message = "No Aurora cluster ARN: the database layer's state has no cluster_arn output; set db_cluster_arn."
    }
    precondition {
      condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:", local.db_secret_arn))
      error_message = "No database secret ARN (a secret name is not enough): check database_secret_arn_output or set db_secret_arn."
    }
  }

  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
    aws_iam_role_policy_attachment.managed,
  ]
}

resource "aws_lambda_alias" "live" {
  count = local.use_alias ? 1 : 0

  name             = "live"
  description      = "Version with provisioned concurrency"
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version
}

resource "aws_lambda_provisioned_concurrency_config" "this" {
  count = local.use_alias ? 1 : 0

  function_name                     = aws_lambda_function.this.function_name
  qualifier                         = aws_lambda_alias.live[0].name
  provisioned_concurrent_executions = var.provisioned_concurrency
}

resource "aws_lambda_function_url" "this" {
  count = var.create_function_url ? 1 : 0

  function_name      = aws_lambda_function.this.function_name
  qualifier          = local.use_alias ? aws_lambda_alias.live[0].name : null
  authorization_type = "AWS_IAM"
}
