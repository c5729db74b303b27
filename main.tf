provider "aws" {
  region  = var.aws_region
  profile = var.aws_profile

  default_tags {
    tags = merge(var.tags, { Layer = "06-lambda-genai" })
  }
}

locals {
  name = "${var.name_prefix}-${var.environment}-genai"
  # The provider's Region. aws_region accepts commercial and GovCloud (US) Regions only: the aws and
  # aws-us-gov partitions, whose service endpoints are all under amazonaws.com.
  region     = var.aws_region
  partition  = startswith(var.aws_region, "us-gov-") ? "aws-us-gov" : "aws"
  dns_suffix = "amazonaws.com"
  account_id = data.aws_caller_identity.current.account_id
  log_group  = "/aws/lambda/${local.name}"
  use_alias  = var.provisioned_concurrency > 0

  # Exactly the variables the function reads through genai/config.py's _env() (a test compares the two).
  lambda_environment = {
    DB_CLUSTER_ARN            = local.db_cluster_arn
    DB_SECRET_ARN             = local.db_secret_arn
    DB_NAME                   = var.db_name
    BEDROCK_MODEL_ID          = var.bedrock_model_id
    BEDROCK_INFERENCE_PROFILE = var.bedrock_inference_profile
    MAX_TOOL_ROUNDS           = tostring(var.max_tool_rounds)
    MAX_OUTPUT_TOKENS         = tostring(var.max_output_tokens)
    CONVERSATION_TABLE        = var.create_conversation_table ? aws_dynamodb_table.this[0].name : ""
    CONVERSATION_KEY          = var.create_conversation_table ? terraform_data.conversation_key[0].output : ""
    CONVERSATION_IDLE_MINUTES = tostring(var.conversation_idle_minutes)
    CONVERSATION_MAX_TURNS    = tostring(var.conversation_max_turns)
    API_GATEWAY_BUDGET_MS     = tostring(var.api_gateway_budget_ms)
    CORS_ALLOW_ORIGIN         = var.cors_allow_origin
    WRITES_ENABLED            = var.writes_enabled ? "true" : "false"
    METRICS_NAMESPACE         = var.metrics_namespace

    # On the public internet (see docs/internet.md, "Putting it on the internet").
    LIMITS_TABLE                       = var.create_limits_table ? aws_dynamodb_table.limits[0].name : ""
    RATE_LIMIT_CLIENT_PER_MINUTE       = tostring(var.rate_limit_client_per_minute)
    RATE_LIMIT_CLIENT_PER_DAY          = tostring(var.rate_limit_client_per_day)
    RATE_LIMIT_CLIENT_TOKENS_PER_DAY   = tostring(var.rate_limit_client_tokens_per_day)
    RATE_LIMIT_CONVERSATION_PER_MINUTE = tostring(var.rate_limit_conversation_per_minute)
    DAILY_TOKEN_CAP                    = tostring(var.daily_token_cap)
    CLIENT_ADDRESS_SOURCE              = var.client_address_source
    TRUSTED_PROXY_HOPS                 = tostring(var.trusted_proxy_hops)
    WRITE_GROUPS                       = join(",", var.write_groups)
    ALB_OIDC_AUTH                      = local.alb_oidc_auth ? "true" : "false"
    ANONYMOUS_READ_SCOPE               = var.anonymous_read_scope
    ALB_ARN                            = local.alb_oidc_auth ? local.alb_arn : ""
  }

  # The ALB listener rule signs callers in (authenticate-cognito) only when both are set; the
  # function then verifies x-amzn-oidc-data (its signature, and that this load balancer signed it)
  # and trusts the x-amzn-oidc-* headers only when it verifies.
  alb_oidc_auth = var.alb_listener_arn != null && var.alb_authenticate_cognito != null
  # The load balancer of the listener, the signer its x-amzn-oidc-data must name. A listener's ARN is
  # its load balancer's with "loadbalancer" -> "listener" and the listener id appended, so no lookup
  # (data "aws_lb_listener") is needed at plan time.
  alb_arn = var.alb_listener_arn == null ? "" : join(":loadbalancer/", regex("^(arn:[^:]+:elasticloadbalancing:[^:]+:[0-9]+):listener/(app/[^/]+/[^/]+)/[^/]+$", var.alb_listener_arn))

  # AWS managed policies attached to the role. These are the only "*" resources the function
  # gets, each because AWS offers no narrower resource for the action:
  managed_policy_arns = merge(
    # ENI create/describe/delete for the VPC attachment (Lambda manages the ENIs).
    { eni = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaENIManagementAccess" },
    # X-Ray PutTraceSegments/PutTelemetryRecords accept no resource ARN.
    var.tracing_mode == "Active" ? { xray = "arn:${local.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess" } : {},
  )

  # Only what the function calls: the Data API (which reads the secret itself) and Bedrock as
  # interface endpoints, DynamoDB (memory or limits on) as a gateway endpoint. Lambda ships the logs
  # itself.
  interface_endpoint_services = var.create_vpc_endpoints ? setintersection(var.vpc_endpoint_services, ["rds-data", "bedrock-runtime"]) : toset([])
  create_dynamodb_endpoint    = var.create_vpc_endpoints && (var.create_conversation_table || var.create_limits_table) && contains(var.vpc_endpoint_services, "dynamodb")

  # Every caller (API Gateway, ALB, Function URL) reaches the same target: the 'live' alias when
  # provisioned concurrency is on (so calls use it), else the unqualified function.
  qualifier         = local.use_alias ? aws_lambda_alias.live[0].name : null
  target_arn        = local.use_alias ? aws_lambda_alias.live[0].arn : aws_lambda_function.this.arn
  target_invoke_arn = local.use_alias ? aws_lambda_alias.live[0].invoke_arn : aws_lambda_function.this.invoke_arn
}

###############################################################################
# IAM
###############################################################################

# Which Bedrock ARNs the role may invoke: a provider-free module, so the tests can evaluate it
# offline for every Region and model and compare it with genai/profiles.py (candidate_ids()).
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
# Network: HTTPS out only (Data API, Bedrock, DynamoDB). No ingress.
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
  count = length(local.interface_endpoint_services) > 0 ? 1 : 0

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

# Interface endpoints accept one subnet per Availability Zone: the first given subnet of each
# zone (data.aws_subnet.this tells the zones).
locals {
  subnet_ids_by_az    = { for id in(length(data.aws_subnet.this) > 0 ? local.subnet_ids : []) : data.aws_subnet.this[id].availability_zone => id... }
  endpoint_subnet_ids = [for az, ids in local.subnet_ids_by_az : ids[0]]
}

resource "aws_vpc_endpoint" "this" {
  for_each = local.interface_endpoint_services

  vpc_id              = local.vpc_id
  service_name        = "com.amazonaws.${local.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = local.endpoint_subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true
}

# DynamoDB: a gateway endpoint (no hourly charge, no security group) on the private subnets' route
# tables; it adds a route to DynamoDB's prefix list for everything using those tables.
resource "aws_vpc_endpoint" "dynamodb" {
  count = local.create_dynamodb_endpoint ? 1 : 0

  vpc_id            = local.vpc_id
  service_name      = "com.amazonaws.${local.region}.dynamodb"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.vpc_endpoint_route_table_ids
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

# The deployment package is built by `make package` (`make plan` runs it first), not by an
# archive_file: the zip holds lambda_function.py, the genai/ package and their .pyc compiled by the
# runtime's own Python (local/package.py), which Terraform cannot do. The stamp beside the zip records
# what it was built from: the sha256 of a manifest of every shipped source ("<sha256>  <path>" lines,
# sorted by path, as local/package.py's sources_manifest writes it); a missing, stale or
# other-runtime build fails the plan instead of deploying it.
locals {
  package_zip     = "${path.module}/build/lambda_function.zip"
  package_stamp   = try(jsondecode(file("${path.module}/build/lambda_function.json")), {})
  package_sources = sort(setunion(fileset(path.module, "lambda_function.py"), fileset(path.module, "genai/*.py")))
  package_manifest = join("", [
    for name in local.package_sources : "${filesha256("${path.module}/${name}")}  ${name}\n"
  ])
  package_fresh = alltrue([
    try(local.package_stamp.runtime, "") == var.lambda_runtime,
    try(local.package_stamp.sources_sha256, "") == sha256(local.package_manifest),
    try(local.package_stamp.zip_sha256, "") == try(filesha256(local.package_zip), "none"),
  ])
}

resource "aws_lambda_function" "this" {
  function_name    = local.name
  description      = "PetClinic assistant: Claude on Bedrock over the RDS Data API"
  role             = aws_iam_role.this.arn
  filename         = local.package_zip
  source_code_hash = fileexists(local.package_zip) ? filebase64sha256(local.package_zip) : null
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
      condition     = local.package_fresh
      error_message = "build/lambda_function.zip is missing, or was not built from these sources (lambda_function.py, genai/*.py) for ${var.lambda_runtime} (its stamp build/lambda_function.json disagrees): run make package (make plan runs it first)."
    }
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
    # The ID the function calls first is an inference profile this Region lists (data.tf; only with
    # bedrock_check_inference_profile, and only for a profile ID).
    precondition {
      condition     = local.bedrock_first_profile_listed
      error_message = "${local.region} lists no inference profile ${module.bedrock_access.called_model_id}, the ID the function calls first (bedrock_model_id ${var.bedrock_model_id}, bedrock_inference_profile ${var.bedrock_inference_profile}). ${local.bedrock_profile_hint} Set bedrock_check_inference_profile = false to plan without this check."
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
  qualifier          = local.qualifier
  authorization_type = "AWS_IAM"
}

###############################################################################
# Conversation memory: one item per turn, at most one pending write per conversation
###############################################################################

# The key that signs the conversation ids the function issues (CONVERSATION_KEY): 64 hex digits made
# once, at the first apply, and kept in the state (ignore_changes: uuid() differs on every plan).
# Rotate it with `terraform apply -replace='terraform_data.conversation_key[0]'`: every open
# conversation then starts afresh (its id no longer verifies), and nothing else changes.
resource "terraform_data" "conversation_key" {
  count = var.create_conversation_table ? 1 : 0
  input = sha256("${uuid()}${uuid()}")

  lifecycle {
    ignore_changes = [input]
  }
}

resource "aws_dynamodb_table" "this" {
  count = var.create_conversation_table ? 1 : 0

  name         = "${local.name}-conversations"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "conversation_id"
  range_key    = "item"

  attribute {
    name = "conversation_id"
    type = "S"
  }

  attribute {
    name = "item"
    type = "S"
  }

  # The function sets expires_at (epoch seconds) from CONVERSATION_IDLE_MINUTES on every item.
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  # KMS: the AWS managed key for DynamoDB, or the customer key when one is given.
  server_side_encryption {
    enabled     = true
    kms_key_arn = var.conversation_table_kms_key_arn
  }

  point_in_time_recovery {
    enabled = true
  }
}

###############################################################################
# Limits: one counter item per rate-limit window and one per UTC day's token count
###############################################################################

resource "aws_dynamodb_table" "limits" {
  #checkov:skip=CKV_AWS_28:Counters only (rate-limit windows, the day's token count), each expiring within two days: nothing worth restoring.
  count = var.create_limits_table ? 1 : 0

  name         = "${local.name}-limits"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  # The function sets expires_at (epoch seconds) just past the end of each window or day.
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  # KMS: the AWS managed key for DynamoDB, or the customer key when one is given.
  server_side_encryption {
    enabled     = true
    kms_key_arn = var.limits_table_kms_key_arn
  }
}

###############################################################################
# Wiring for the neighbours: API Gateway (REST, AWS_PROXY) and an ALB
###############################################################################

# The REST API's ANY /api/genai and ANY /api/genai/{proxy+}, any stage and method, of that API only.
resource "aws_lambda_permission" "api_gateway" {
  for_each = var.api_gateway_execution_arn == null ? {} : { genai = "/api/genai", proxy = "/api/genai/*" }

  statement_id  = "AllowApiGateway-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  qualifier     = local.qualifier
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${var.api_gateway_execution_arn}/*/*${each.value}"
}

# ALB: single-value headers (the ALB default; the function answers in the shape it receives).
resource "aws_lb_target_group" "this" {
  count = var.alb_listener_arn == null ? 0 : 1

  name                               = local.name
  target_type                        = "lambda"
  lambda_multi_value_headers_enabled = false

  # The function's shallow health answer: no Bedrock call, no database statement.
  health_check {
    enabled             = true
    path                = "/api/genai/health"
    matcher             = "200"
    interval            = 60
    timeout             = 30
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lambda_permission" "alb" {
  count = var.alb_listener_arn == null ? 0 : 1

  statement_id  = "AllowAlbTargetGroup"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  qualifier     = local.qualifier
  principal     = "elasticloadbalancing.amazonaws.com"
  source_arn    = aws_lb_target_group.this[0].arn
}

resource "aws_lb_target_group_attachment" "this" {
  count = var.alb_listener_arn == null ? 0 : 1

  target_group_arn = aws_lb_target_group.this[0].arn
  target_id        = local.target_arn

  depends_on = [aws_lambda_permission.alb]
}

resource "aws_lb_listener_rule" "this" {
  count = var.alb_listener_arn == null ? 0 : 1

  listener_arn = var.alb_listener_arn
  priority     = var.alb_listener_rule_priority

  # Sign the caller in first (alb_authenticate_cognito); the ALB then sends x-amzn-oidc-* headers.
  dynamic "action" {
    for_each = local.alb_oidc_auth ? [var.alb_authenticate_cognito] : []
    content {
      type  = "authenticate-cognito"
      order = 1

      authenticate_cognito {
        user_pool_arn              = action.value.user_pool_arn
        user_pool_client_id        = action.value.user_pool_client_id
        user_pool_domain           = action.value.user_pool_domain
        on_unauthenticated_request = action.value.on_unauthenticated_request
      }
    }
  }

  action {
    type             = "forward"
    order            = local.alb_oidc_auth ? 2 : 1
    target_group_arn = aws_lb_target_group.this[0].arn
  }

  condition {
    path_pattern {
      values = ["/api/genai", "/api/genai/*"]
    }
  }
}

###############################################################################
# Alarms and dashboard
###############################################################################

resource "aws_sns_topic" "this" {
  count = var.create_alarms && var.create_alarm_topic ? 1 : 0

  name              = "${local.name}-alarms"
  kms_master_key_id = var.alarm_topic_kms_key_arn
}

locals {
  alarm_actions = (
    var.alarm_topic_arn != null ? [var.alarm_topic_arn] :
    var.create_alarms && var.create_alarm_topic ? [aws_sns_topic.this[0].arn] : []
  )

  # Lambda's own metrics: crashes and timeouts (Errors), throttles, and any invocation near the
  # timeout (the function answers 504 well before it; reaching 90% means a call was not bounded).
  lambda_alarms = var.create_alarms ? {
    errors = {
      metric      = "Errors"
      statistic   = "Sum"
      threshold   = 1
      description = "The function failed (an unhandled error or a Lambda timeout), not an error answer it chose."
    }
    throttles = {
      metric      = "Throttles"
      statistic   = "Sum"
      threshold   = 1
      description = "Invocations were throttled: reserved concurrency or the account limit is reached."
    }
    duration = {
      metric      = "Duration"
      statistic   = "Maximum"
      threshold   = var.lambda_timeout * 900
      description = "An invocation ran past 90% of the ${var.lambda_timeout} s timeout."
    }
  } : {}
}

resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each = local.lambda_alarms

  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Token spend from the function's EMF metrics: input + output tokens per hour.
resource "aws_cloudwatch_metric_alarm" "tokens" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${local.name}-tokens"
  alarm_description   = "Bedrock tokens (input + output) in one hour above ${var.alarm_tokens_per_hour}."
  evaluation_periods  = 1
  threshold           = var.alarm_tokens_per_hour
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "tokens"
    expression  = "FILL(input, 0) + FILL(output, 0)"
    label       = "Tokens per hour"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { input = "InputTokens", output = "OutputTokens" }
    content {
      id = metric_query.key

      metric {
        namespace   = var.metrics_namespace
        metric_name = metric_query.value
        dimensions  = { FunctionName = aws_lambda_function.this.function_name }
        stat        = "Sum"
        period      = 3600
      }
    }
  }
}

# The day's running token total (EMF DailyTokens, emitted after each question) at 80% of the cap:
# time to look before the function starts refusing questions. It clears when the UTC day resets.
locals {
  daily_token_alarm_threshold = floor(var.daily_token_cap * 80 / 100)

  # Faults of the limits store (EMF LimiterErrors): every one is a question whose limits could
  # not be checked or counted.
  limiter_alarms = var.create_alarms && var.create_limits_table ? {
    limiter-errors = {
      metric      = "LimiterErrors"
      threshold   = 1
      description = "The rate limiter or the daily token budget could not read or count in the limits table."
    }
  } : {}
}

resource "aws_cloudwatch_metric_alarm" "daily_tokens" {
  count = var.create_alarms && var.create_limits_table && var.daily_token_cap > 0 ? 1 : 0

  alarm_name          = "${local.name}-daily-tokens"
  alarm_description   = "Today's Bedrock tokens reached 80% of daily_token_cap (${local.daily_token_alarm_threshold} of ${var.daily_token_cap}); at the cap questions are refused until 00:00 UTC."
  namespace           = var.metrics_namespace
  metric_name         = "DailyTokens"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = local.daily_token_alarm_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "limiter" {
  for_each = local.limiter_alarms

  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = var.metrics_namespace
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Bedrock refused the model ID the function calls first, and the function fell back to the next
# candidate (EMF ModelIdFallbacks, one per refused ID): the profile table or the override no longer
# fits this Region. Each instance remembers the ID that worked and logs it once.
resource "aws_cloudwatch_metric_alarm" "model_id_fallbacks" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${local.name}-model-id-fallbacks"
  alarm_description   = "Bedrock refused the model ID the function calls first (${module.bedrock_access.called_model_id}) and it fell back to the next of ${join(", ", module.bedrock_access.candidate_ids)}. The log line \"model id refused, using the next candidate\" names the ID that answered: set bedrock_inference_profile (or bedrock_model_id) to it, or update the profile table."
  namespace           = var.metrics_namespace
  metric_name         = "ModelIdFallbacks"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

locals {
  dashboard_metric = { for name in ["Questions", "ModelCalls", "ToolCalls", "InputTokens", "OutputTokens", "AnswerLatency", "DailyTokens", "RateLimited", "LimiterErrors", "ModelIdFallbacks"] :
  name => [var.metrics_namespace, name, "FunctionName", local.name] }
  lambda_metric = { for name in ["Invocations", "Errors", "Throttles", "Duration"] :
  name => ["AWS/Lambda", name, "FunctionName", local.name] }
  dashboard_widgets = [
    { title = "Questions, model and tool calls", stat = "Sum", metrics = [local.dashboard_metric.Questions, local.dashboard_metric.ModelCalls, local.dashboard_metric.ToolCalls] },
    { title = "Answer latency (ms)", stat = "p50", metrics = [
      local.dashboard_metric.AnswerLatency,
      concat(local.dashboard_metric.AnswerLatency, [{ stat = "p90" }]),
      concat(local.dashboard_metric.AnswerLatency, [{ stat = "p99" }]),
    ] },
    { title = "Bedrock tokens", stat = "Sum", metrics = [local.dashboard_metric.InputTokens, local.dashboard_metric.OutputTokens] },
    { title = "Error answers by code", stat = "Sum", metrics = [[{
      expression = "SEARCH('{\"${var.metrics_namespace}\",ErrorCode,FunctionName} MetricName=\"Errors\" FunctionName=\"${local.name}\"', 'Sum', 300)"
      id         = "codes"
    }]] },
    { title = "Lambda invocations, errors, throttles", stat = "Sum", metrics = [local.lambda_metric.Invocations, local.lambda_metric.Errors, local.lambda_metric.Throttles] },
    { title = "Lambda duration (ms; timeout ${var.lambda_timeout * 1000})", stat = "Maximum", metrics = [
      local.lambda_metric.Duration,
      concat(local.lambda_metric.Duration, [{ stat = "p99" }]),
    ] },
    { title = "Tokens today, UTC (daily_token_cap ${var.daily_token_cap > 0 ? var.daily_token_cap : "off"})", stat = "Maximum", metrics = [local.dashboard_metric.DailyTokens] },
    { title = "Refused questions (RateLimited) and limiter faults (LimiterErrors)", stat = "Sum", metrics = [local.dashboard_metric.RateLimited, local.dashboard_metric.LimiterErrors] },
    { title = "Model ID fallbacks (Bedrock refused the first choice)", stat = "Sum", metrics = [local.dashboard_metric.ModelIdFallbacks] },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = local.name
  dashboard_body = jsonencode({
    widgets = [for index, widget in local.dashboard_widgets : {
      type   = "metric"
      x      = (index % 2) * 12
      y      = floor(index / 2) * 6
      width  = 12
      height = 6
      properties = {
        title   = widget.title
        region  = local.region
        view    = "timeSeries"
        stat    = widget.stat
        period  = 300
        metrics = widget.metrics
      }
    }]
  })
}
