# Plans of the whole layer against a mocked AWS provider (no credentials, no network; the mocked
# values are in mocks/aws.tfmock.hcl). tests/terraform/test_plans.py copies the layer with a stub
# build/lambda_function.zip and its stamp into a temporary folder, runs `terraform init` (the
# machine's provider mirror, or the registry) and `terraform test` there.

mock_provider "aws" {
  source          = "./tests/mocks"
  override_during = plan
}

# The conversation key is made at apply (uuid()); a plan sees a fixed one here.
override_resource {
  target          = terraform_data.conversation_key
  override_during = plan
  values = {
    output = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  }
}

# The neighbours' state as the 01-network and 03-database layers write it (subnets by AZ).
override_data {
  target          = data.terraform_remote_state.network
  override_during = plan
  values = {
    outputs = {
      vpc_id = "vpc-0aaaaaaaaaaaaaaa1"
      private_app_subnet_ids = {
        "ap-northeast-2a" = "subnet-0aaaaaaaaaaaaaaa1"
        "ap-northeast-2c" = "subnet-0aaaaaaaaaaaaaaa2"
      }
    }
  }
}

override_data {
  target          = data.terraform_remote_state.database
  override_during = plan
  values = {
    outputs = {
      cluster_arn            = "arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-from-state"
      master_user_secret_arn = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!cluster-from-state-AbCdEf"
    }
  }
}

###############################################################################
# The defaults, planned (with the neighbours' state)
###############################################################################

run "defaults" {
  command = plan

  variables {
    remote_state_bucket = "petclinic-tfstate-example"
  }

  # The function and its package (the zip precondition held: the stub build's stamp matches).
  assert {
    condition     = aws_lambda_function.this.function_name == "petclinic-dev-genai" && aws_lambda_function.this.runtime == "python3.13" && aws_lambda_function.this.architectures == tolist(["arm64"])
    error_message = "Unexpected function name, runtime or architecture."
  }
  assert {
    condition     = endswith(aws_lambda_function.this.filename, "build/lambda_function.zip") && aws_lambda_function.this.source_code_hash == filebase64sha256("build/lambda_function.zip")
    error_message = "The function does not deploy build/lambda_function.zip with its hash."
  }
  assert {
    condition     = aws_lambda_function.this.handler == "lambda_function.lambda_handler" && aws_lambda_function.this.memory_size == 512 && aws_lambda_function.this.timeout == 60 && aws_lambda_function.this.publish == false
    error_message = "Unexpected handler, memory, timeout or publish."
  }
  # The environment: the model ID as given, the profile picked at run time; memory and limits on.
  assert {
    condition = aws_lambda_function.this.environment[0].variables == tomap({
      DB_CLUSTER_ARN                     = "arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-from-state"
      DB_SECRET_ARN                      = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!cluster-from-state-AbCdEf"
      DB_NAME                            = "petclinic"
      BEDROCK_MODEL_ID                   = "anthropic.claude-haiku-4-5-20251001-v1:0"
      BEDROCK_INFERENCE_PROFILE          = "auto"
      MAX_TOOL_ROUNDS                    = "4"
      MAX_OUTPUT_TOKENS                  = "1024"
      CONVERSATION_TABLE                 = "petclinic-dev-genai-conversations"
      CONVERSATION_KEY                   = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
      CONVERSATION_IDLE_MINUTES          = "60"
      CONVERSATION_MAX_TURNS             = "5"
      API_GATEWAY_BUDGET_MS              = "28000"
      CORS_ALLOW_ORIGIN                  = ""
      WRITES_ENABLED                     = "false"
      METRICS_NAMESPACE                  = "PetClinic/GenAI"
      LIMITS_TABLE                       = "petclinic-dev-genai-limits"
      RATE_LIMIT_CLIENT_PER_MINUTE       = "20"
      RATE_LIMIT_CLIENT_PER_DAY          = "500"
      RATE_LIMIT_CLIENT_TOKENS_PER_DAY   = "400000"
      RATE_LIMIT_CONVERSATION_PER_MINUTE = "6"
      DAILY_TOKEN_CAP                    = "2000000"
      CLIENT_ADDRESS_SOURCE              = "viewer"
      TRUSTED_PROXY_HOPS                 = "1"
      WRITE_GROUPS                       = ""
      ALB_OIDC_AUTH                      = "false"
      ANONYMOUS_READ_SCOPE               = "no_contact"
      ALB_ARN                            = ""
    })
    error_message = "The function's environment is not the defaults'."
  }
  assert {
    condition     = length(terraform_data.conversation_key) == 1
    error_message = "Memory is on but no conversation key is made for the function."
  }
  # What the function will call from Seoul: Haiku 4.5 has no apac profile, so the global one; the
  # base ID is its fallback, and the role may invoke exactly those two (no apac. profile).
  assert {
    condition     = output.bedrock_model_id == "global.anthropic.claude-haiku-4-5-20251001-v1:0"
    error_message = "The model ID called from ap-northeast-2 is not the global profile's."
  }
  assert {
    condition     = output.bedrock_model_id_candidates == tolist(["global.anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic.claude-haiku-4-5-20251001-v1:0"])
    error_message = "The fallback from ap-northeast-2 is not global. then the base ID."
  }
  # The log group is the function's, and the function logs JSON to it.
  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/petclinic-dev-genai" && aws_cloudwatch_log_group.this.retention_in_days == 365 && aws_cloudwatch_log_group.this.kms_key_id == null
    error_message = "Unexpected log group name, retention or key."
  }
  assert {
    condition     = aws_lambda_function.this.logging_config[0].log_group == "/aws/lambda/petclinic-dev-genai" && aws_lambda_function.this.logging_config[0].log_format == "JSON"
    error_message = "The function does not log JSON to its log group."
  }
  # The security group: HTTPS out only, no ingress.
  assert {
    condition     = length(aws_security_group.this.ingress) == 0 && jsonencode([for e in aws_security_group.this.egress : [e.from_port, e.to_port, e.protocol, e.cidr_blocks]]) == jsonencode([[443, 443, "tcp", ["0.0.0.0/0"]]])
    error_message = "The security group is not HTTPS egress only."
  }
  # The IAM statements: exactly these, with these actions on these resources.
  assert {
    condition = jsonencode({ for s in data.aws_iam_policy_document.this.statement : s.sid => [s.actions, s.resources] }) == jsonencode({
      WriteOwnLogs                  = [["logs:CreateLogStream", "logs:PutLogEvents"], ["arn:aws:logs:ap-northeast-2:123456789012:log-group:/aws/lambda/petclinic-dev-genai:*"]]
      QueryPetclinicThroughDataApi  = [["rds-data:ExecuteStatement"], ["arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-from-state"]]
      RememberConversations         = [["dynamodb:PutItem", "dynamodb:Query"], ["arn:aws:dynamodb:ap-northeast-2:123456789012:table/petclinic-dev-genai-conversations"]]
      CountRequestsAndTokens        = [["dynamodb:GetItem", "dynamodb:UpdateItem"], ["arn:aws:dynamodb:ap-northeast-2:123456789012:table/petclinic-dev-genai-limits"]]
      ReadDatabaseSecret            = [["secretsmanager:GetSecretValue"], ["arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!cluster-from-state-AbCdEf"]]
      InvokeClaudeInferenceProfiles = [["bedrock:InvokeModel"], ["arn:aws:bedrock:ap-northeast-2:123456789012:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0"]]
      InvokeClaudeInRegion          = [["bedrock:InvokeModel"], ["arn:aws:bedrock:ap-northeast-2::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"]]
      InvokeClaudeThroughProfiles   = [["bedrock:InvokeModel"], ["arn:aws:bedrock:*::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0", "arn:aws:bedrock:::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"]]
    })
    error_message = "The inline policy's statements are not the defaults'."
  }
  assert {
    condition     = jsonencode([for c in one([for s in data.aws_iam_policy_document.this.statement : s if s.sid == "InvokeClaudeThroughProfiles"]).condition : [c.test, c.variable, c.values]]) == jsonencode([["ArnLike", "bedrock:InferenceProfileArn", ["arn:aws:bedrock:ap-northeast-2:123456789012:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0"]]])
    error_message = "The model in other Regions is not conditioned on the inference profiles."
  }
  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.this.statement : s.effect == "Allow" && !contains(s.resources, "*")])
    error_message = "A statement denies or grants on every resource."
  }
  assert {
    condition     = toset([for a in aws_iam_role_policy_attachment.managed : a.policy_arn]) == toset(["arn:aws:iam::aws:policy/service-role/AWSLambdaENIManagementAccess", "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"])
    error_message = "Unexpected managed policies."
  }
  # What is on by default, and what is not.
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.lambda) == 3 && length(aws_cloudwatch_metric_alarm.tokens) == 1 && length(aws_cloudwatch_metric_alarm.daily_tokens) == 1 && length(aws_cloudwatch_metric_alarm.limiter) == 1 && length(aws_cloudwatch_metric_alarm.model_id_fallbacks) == 1 && length(aws_cloudwatch_dashboard.this) == 1
    error_message = "Alarms or dashboard missing."
  }
  # Any model ID fallback in five minutes, on the function's EMF metric; the description names the IDs.
  assert {
    condition     = aws_cloudwatch_metric_alarm.model_id_fallbacks[0].namespace == "PetClinic/GenAI" && aws_cloudwatch_metric_alarm.model_id_fallbacks[0].metric_name == "ModelIdFallbacks" && aws_cloudwatch_metric_alarm.model_id_fallbacks[0].dimensions == tomap({ FunctionName = "petclinic-dev-genai" }) && aws_cloudwatch_metric_alarm.model_id_fallbacks[0].threshold == 0 && aws_cloudwatch_metric_alarm.model_id_fallbacks[0].comparison_operator == "GreaterThanThreshold"
    error_message = "The model ID fallback alarm does not watch ModelIdFallbacks > 0 of this function."
  }
  assert {
    condition     = strcontains(aws_cloudwatch_metric_alarm.model_id_fallbacks[0].alarm_description, "first (global.anthropic.claude-haiku-4-5-20251001-v1:0) and it fell back to the next of global.anthropic.claude-haiku-4-5-20251001-v1:0, anthropic.claude-haiku-4-5-20251001-v1:0.")
    error_message = "The model ID fallback alarm does not name the candidates."
  }
  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.lambda : length(a.alarm_actions) == 0]) && length(aws_sns_topic.this) == 0
    error_message = "Without a topic the alarms notify nothing."
  }
  assert {
    condition     = length(aws_lambda_alias.live) + length(aws_lambda_provisioned_concurrency_config.this) + length(aws_lambda_function_url.this) + length(aws_lb_target_group.this) + length(aws_lb_listener_rule.this) + length(aws_lambda_permission.api_gateway) + length(aws_vpc_endpoint.this) + length(aws_vpc_endpoint.dynamodb) == 0
    error_message = "An optional resource is created by default."
  }
  assert {
    condition     = output.lambda_alias_arn == null && output.lambda_function_url == null && output.sns_topic_arn == null
    error_message = "Optional outputs should be null by default."
  }
}

# Another Region: the model ID and every Bedrock ARN follow it.
run "another_region" {
  command = plan

  variables {
    aws_region         = "us-east-1"
    vpc_id             = "vpc-0bbbbbbbbbbbbbbb1"
    private_subnet_ids = ["subnet-0bbbbbbbbbbbbbbb1"]
    db_cluster_arn     = "arn:aws:rds:us-east-1:123456789012:cluster:petclinic"
    db_secret_arn      = "arn:aws:secretsmanager:us-east-1:123456789012:secret:petclinic-AbCdEf"
  }

  assert {
    condition     = output.bedrock_model_id == "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    error_message = "From us-east-1 the function calls the us profile."
  }
  assert {
    condition     = output.bedrock_model_id_candidates == tolist(["us.anthropic.claude-haiku-4-5-20251001-v1:0", "global.anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic.claude-haiku-4-5-20251001-v1:0"])
    error_message = "From us-east-1 the fallback is not us., global., the base ID."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.this.statement : s if s.sid == "InvokeClaudeInferenceProfiles"]).resources == toset(["arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0"])
    error_message = "The profiles are not us-east-1's."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.this.statement : s if s.sid == "InvokeClaudeInRegion"]).resources == toset(["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"])
    error_message = "The in-Region model is not us-east-1's."
  }
}

###############################################################################
# Everything on
###############################################################################

run "everything_on" {
  command = plan

  variables {
    remote_state_bucket            = "petclinic-tfstate-example"
    environment                    = "prod"
    writes_enabled                 = true
    write_groups                   = ["staff", "admins"]
    conversation_table_kms_key_arn = "arn:aws:kms:ap-northeast-2:123456789012:key/11111111-1111-1111-1111-111111111111"
    limits_table_kms_key_arn       = "arn:aws:kms:ap-northeast-2:123456789012:key/22222222-2222-2222-2222-222222222222"
    db_secret_kms_key_arn          = "arn:aws:kms:ap-northeast-2:123456789012:key/33333333-3333-3333-3333-333333333333"
    lambda_kms_key_arn             = "arn:aws:kms:ap-northeast-2:123456789012:key/44444444-4444-4444-4444-444444444444"
    log_kms_key_arn                = "arn:aws:kms:ap-northeast-2:123456789012:key/55555555-5555-5555-5555-555555555555"
    lambda_memory_size             = 1024
    lambda_timeout                 = 90
    reserved_concurrent_executions = 20
    provisioned_concurrency        = 2
    create_function_url            = true
    rate_limit_client_per_minute   = 10
    daily_token_cap                = 1000000
    cors_allow_origin              = "https://petclinic.example.com"
    api_gateway_execution_arn      = "arn:aws:execute-api:ap-northeast-2:123456789012:abcde12345"
    alb_listener_arn               = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:listener/app/web/0123456789abcdef/0123456789abcdef"
    alb_authenticate_cognito = {
      user_pool_arn       = "arn:aws:cognito-idp:ap-northeast-2:123456789012:userpool/ap-northeast-2_AbC123"
      user_pool_client_id = "1h57kf5cpq17m0eml12EXAMPLE"
      user_pool_domain    = "petclinic-staff"
    }
    create_alarm_topic           = true
    alarm_topic_kms_key_arn      = "arn:aws:kms:ap-northeast-2:123456789012:key/66666666-6666-6666-6666-666666666666"
    create_vpc_endpoints         = true
    vpc_endpoint_route_table_ids = ["rtb-0123456789abcdef0"]
  }

  assert {
    condition     = aws_lambda_function.this.function_name == "petclinic-prod-genai" && aws_lambda_function.this.memory_size == 1024 && aws_lambda_function.this.timeout == 90 && aws_lambda_function.this.reserved_concurrent_executions == 20 && aws_lambda_function.this.publish
    error_message = "Memory, timeout, reserved concurrency or publish not as set."
  }
  assert {
    condition     = aws_lambda_function.this.kms_key_arn == "arn:aws:kms:ap-northeast-2:123456789012:key/44444444-4444-4444-4444-444444444444" && aws_cloudwatch_log_group.this.kms_key_id == "arn:aws:kms:ap-northeast-2:123456789012:key/55555555-5555-5555-5555-555555555555"
    error_message = "The function or log group keys are not the given ones."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.WRITES_ENABLED == "true" && aws_lambda_function.this.environment[0].variables.WRITE_GROUPS == "staff,admins" && aws_lambda_function.this.environment[0].variables.ALB_OIDC_AUTH == "true" && aws_lambda_function.this.environment[0].variables.CORS_ALLOW_ORIGIN == "https://petclinic.example.com" && aws_lambda_function.this.environment[0].variables.RATE_LIMIT_CLIENT_PER_MINUTE == "10" && aws_lambda_function.this.environment[0].variables.DAILY_TOKEN_CAP == "1000000"
    error_message = "The environment does not carry the writes, groups, ALB sign-in, CORS and limits settings."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.CONVERSATION_TABLE == "petclinic-prod-genai-conversations" && aws_lambda_function.this.environment[0].variables.LIMITS_TABLE == "petclinic-prod-genai-limits"
    error_message = "The tables are not named in the environment."
  }
  # Writes: the Data API transaction actions and UpdateItem on the conversation table; the keys,
  # each through its service only.
  assert {
    condition = jsonencode({ for s in data.aws_iam_policy_document.this.statement : s.sid => [s.actions, s.resources] if !startswith(s.sid, "InvokeClaude") }) == jsonencode({
      WriteOwnLogs                 = [["logs:CreateLogStream", "logs:PutLogEvents"], ["arn:aws:logs:ap-northeast-2:123456789012:log-group:/aws/lambda/petclinic-dev-genai:*"]]
      QueryPetclinicThroughDataApi = [["rds-data:ExecuteStatement"], ["arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-from-state"]]
      WriteInDataApiTransactions   = [["rds-data:BeginTransaction", "rds-data:CommitTransaction", "rds-data:RollbackTransaction"], ["arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-from-state"]]
      RememberConversations        = [["dynamodb:PutItem", "dynamodb:Query"], ["arn:aws:dynamodb:ap-northeast-2:123456789012:table/petclinic-dev-genai-conversations"]]
      UpdatePendingWrites          = [["dynamodb:UpdateItem"], ["arn:aws:dynamodb:ap-northeast-2:123456789012:table/petclinic-dev-genai-conversations"]]
      DecryptConversationTable     = [["kms:Decrypt"], ["arn:aws:kms:ap-northeast-2:123456789012:key/11111111-1111-1111-1111-111111111111"]]
      CountRequestsAndTokens       = [["dynamodb:GetItem", "dynamodb:UpdateItem"], ["arn:aws:dynamodb:ap-northeast-2:123456789012:table/petclinic-dev-genai-limits"]]
      DecryptLimitsTable           = [["kms:Decrypt"], ["arn:aws:kms:ap-northeast-2:123456789012:key/22222222-2222-2222-2222-222222222222"]]
      ReadDatabaseSecret           = [["secretsmanager:GetSecretValue"], ["arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!cluster-from-state-AbCdEf"]]
      DecryptDatabaseSecret        = [["kms:Decrypt"], ["arn:aws:kms:ap-northeast-2:123456789012:key/33333333-3333-3333-3333-333333333333"]]
    })
    error_message = "The inline policy's statements with everything on are not as expected."
  }
  assert {
    condition = jsonencode({ for s in data.aws_iam_policy_document.this.statement : s.sid => [for c in s.condition : [c.test, c.variable, c.values]] if startswith(s.sid, "Decrypt") }) == jsonencode({
      DecryptConversationTable = [["StringEquals", "kms:ViaService", ["dynamodb.ap-northeast-2.amazonaws.com"]]]
      DecryptLimitsTable       = [["StringEquals", "kms:ViaService", ["dynamodb.ap-northeast-2.amazonaws.com"]]]
      DecryptDatabaseSecret    = [["StringEquals", "kms:ViaService", ["secretsmanager.ap-northeast-2.amazonaws.com"]]]
    })
    error_message = "A key is usable other than through its service."
  }
  # Provisioned concurrency on the 'live' alias, which every caller reaches.
  assert {
    condition     = aws_lambda_alias.live[0].name == "live" && aws_lambda_provisioned_concurrency_config.this[0].qualifier == "live" && aws_lambda_provisioned_concurrency_config.this[0].provisioned_concurrent_executions == 2
    error_message = "No provisioned concurrency on the live alias."
  }
  assert {
    condition     = aws_lambda_function_url.this[0].authorization_type == "AWS_IAM" && aws_lambda_function_url.this[0].qualifier == "live"
    error_message = "The function URL is not IAM-authenticated on the live alias."
  }
  assert {
    condition     = aws_lambda_permission.api_gateway["genai"].qualifier == "live" && aws_lambda_permission.api_gateway["genai"].source_arn == "arn:aws:execute-api:ap-northeast-2:123456789012:abcde12345/*/*/api/genai" && aws_lambda_permission.api_gateway["proxy"].source_arn == "arn:aws:execute-api:ap-northeast-2:123456789012:abcde12345/*/*/api/genai/*"
    error_message = "The API Gateway permissions are not scoped to that API's /api/genai on the alias."
  }
  # The ALB: sign in with Cognito first, then forward to the alias.
  assert {
    condition     = jsonencode([for a in aws_lb_listener_rule.this[0].action : [a.type, a.order]]) == jsonencode([["authenticate-cognito", 1], ["forward", 2]])
    error_message = "The listener rule does not authenticate before forwarding."
  }
  assert {
    condition     = one(one([for a in aws_lb_listener_rule.this[0].action : a if a.type == "authenticate-cognito"]).authenticate_cognito).user_pool_arn == "arn:aws:cognito-idp:ap-northeast-2:123456789012:userpool/ap-northeast-2_AbC123"
    error_message = "The rule does not sign in with the given user pool."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.ALB_ARN == "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/app/web/0123456789abcdef"
    error_message = "ALB_ARN is not the load balancer of the listener (the signer x-amzn-oidc-data must name)."
  }
  assert {
    condition     = aws_lb_target_group_attachment.this[0].target_id == "arn:aws:lambda:ap-northeast-2:123456789012:function:petclinic-dev-genai:live" && aws_lambda_permission.alb[0].qualifier == "live"
    error_message = "The ALB does not reach the live alias."
  }
  # Alarms notify the created, encrypted topic.
  assert {
    condition     = aws_sns_topic.this[0].kms_master_key_id == "arn:aws:kms:ap-northeast-2:123456789012:key/66666666-6666-6666-6666-666666666666" && output.sns_topic_arn == "arn:aws:sns:ap-northeast-2:123456789012:petclinic-dev-genai-alarms"
    error_message = "The alarm topic is not created with the given key."
  }
  assert {
    condition     = alltrue([for a in concat(values(aws_cloudwatch_metric_alarm.lambda), aws_cloudwatch_metric_alarm.tokens, aws_cloudwatch_metric_alarm.daily_tokens, values(aws_cloudwatch_metric_alarm.limiter), aws_cloudwatch_metric_alarm.model_id_fallbacks) : a.alarm_actions == toset(["arn:aws:sns:ap-northeast-2:123456789012:petclinic-dev-genai-alarms"])])
    error_message = "An alarm does not notify the topic."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.lambda["duration"].threshold == 81000 && aws_cloudwatch_metric_alarm.daily_tokens[0].threshold == 800000
    error_message = "Alarm thresholds do not follow the timeout and the cap."
  }
  # Endpoints: the two interface endpoints, one subnet per zone, and the DynamoDB gateway.
  assert {
    condition     = toset(keys(aws_vpc_endpoint.this)) == toset(["bedrock-runtime", "rds-data"]) && aws_vpc_endpoint.this["rds-data"].service_name == "com.amazonaws.ap-northeast-2.rds-data" && length(aws_vpc_endpoint.this["rds-data"].subnet_ids) == 1
    error_message = "Unexpected interface endpoints."
  }
  assert {
    condition     = aws_vpc_endpoint.dynamodb[0].service_name == "com.amazonaws.ap-northeast-2.dynamodb" && aws_vpc_endpoint.dynamodb[0].route_table_ids == toset(["rtb-0123456789abcdef0"])
    error_message = "Unexpected DynamoDB gateway endpoint."
  }
  assert {
    condition     = output.lambda_alias_arn == "arn:aws:lambda:ap-northeast-2:123456789012:function:petclinic-dev-genai:live"
    error_message = "The alias ARN output is not the alias's."
  }
}

