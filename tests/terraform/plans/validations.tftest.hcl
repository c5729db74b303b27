# One plan per validation rule of variables.tf, each tripping exactly that rule (run
# "invalid_<variable>_<n>": the variable's n-th validation block). expect_failures cannot read the
# message: tests/terraform/test_plans.py plans the same values and checks each rule's own message.
# The file-level variables are the stand-alone inputs, so only the rule under test can fail.

mock_provider "aws" {
  source          = "./tests/mocks"
  override_during = plan
}

variables {
  vpc_id             = "vpc-0123456789abcdef0"
  private_subnet_ids = ["subnet-0123456789abcdef0"]
  db_cluster_arn     = "arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic"
  db_secret_arn      = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:petclinic-db-AbCdEf"
}

run "valid_stand_alone_inputs" {
  command = plan
}

run "invalid_name_prefix_1" {
  command = plan

  variables {
    name_prefix = "PetClinic"
  }

  expect_failures = [var.name_prefix]
}

run "invalid_environment_1" {
  command = plan

  variables {
    environment = "qa"
  }

  expect_failures = [var.environment]
}

run "invalid_aws_region_1" {
  command = plan

  variables {
    aws_region = "seoul"
  }

  expect_failures = [var.aws_region]
}

run "invalid_aws_profile_1" {
  command = plan

  variables {
    aws_profile = "my profile"
  }

  expect_failures = [var.aws_profile]
}

run "invalid_tags_1" {
  command = plan

  variables {
    tags = { k00 = "v", k01 = "v", k02 = "v", k03 = "v", k04 = "v", k05 = "v", k06 = "v", k07 = "v", k08 = "v", k09 = "v", k10 = "v", k11 = "v", k12 = "v", k13 = "v", k14 = "v", k15 = "v", k16 = "v", k17 = "v", k18 = "v", k19 = "v", k20 = "v", k21 = "v", k22 = "v", k23 = "v", k24 = "v", k25 = "v", k26 = "v", k27 = "v", k28 = "v", k29 = "v", k30 = "v", k31 = "v", k32 = "v", k33 = "v", k34 = "v", k35 = "v", k36 = "v", k37 = "v", k38 = "v", k39 = "v", k40 = "v" }
  }

  expect_failures = [var.tags]
}

run "invalid_remote_state_bucket_1" {
  command = plan

  variables {
    remote_state_bucket = "Team_Bucket"
  }

  expect_failures = [var.remote_state_bucket]
}

run "invalid_network_state_key_1" {
  command = plan

  variables {
    network_state_key = "01-network/state.json"
  }

  expect_failures = [var.network_state_key]
}

run "invalid_database_state_key_1" {
  command = plan

  variables {
    database_state_key = "03 database/terraform.tfstate"
  }

  expect_failures = [var.database_state_key]
}

run "invalid_database_secret_arn_output_1" {
  command = plan

  variables {
    database_secret_arn_output = "master-user-secret"
  }

  expect_failures = [var.database_secret_arn_output]
}

run "invalid_vpc_id_1" {
  command = plan

  variables {
    vpc_id = "vpc-XYZ"
  }

  expect_failures = [var.vpc_id]
}

run "invalid_private_subnet_ids_1" {
  command = plan

  variables {
    private_subnet_ids = ["subnet-0123456789abcdef0", "sn-1"]
  }

  expect_failures = [var.private_subnet_ids]
}

run "invalid_db_cluster_arn_1" {
  command = plan

  variables {
    db_cluster_arn = "arn:aws:rds:ap-northeast-2:123456789012:db:petclinic"
  }

  expect_failures = [var.db_cluster_arn]
}

run "invalid_db_secret_arn_1" {
  command = plan

  variables {
    db_secret_arn = "petclinic-db-secret"
  }

  expect_failures = [var.db_secret_arn]
}

run "invalid_db_secret_kms_key_arn_1" {
  command = plan

  variables {
    db_secret_kms_key_arn = "alias/aws/secretsmanager"
  }

  expect_failures = [var.db_secret_kms_key_arn]
}

run "invalid_db_name_1" {
  command = plan

  variables {
    db_name = "pet-clinic"
  }

  expect_failures = [var.db_name]
}

run "invalid_bedrock_model_id_1" {
  command = plan

  variables {
    bedrock_model_id = "amazon.nova-pro-v1:0"
  }

  expect_failures = [var.bedrock_model_id]
}

run "invalid_bedrock_inference_profile_1" {
  command = plan

  variables {
    bedrock_inference_profile = "asia"
  }

  expect_failures = [var.bedrock_inference_profile]
}

run "invalid_bedrock_check_inference_profile_1" {
  command = plan

  variables {
    bedrock_check_inference_profile = null
  }

  expect_failures = [var.bedrock_check_inference_profile]
}

run "invalid_max_tool_rounds_1" {
  command = plan

  variables {
    max_tool_rounds = 11
  }

  expect_failures = [var.max_tool_rounds]
}

run "invalid_max_output_tokens_1" {
  command = plan

  variables {
    max_output_tokens = 32
  }

  expect_failures = [var.max_output_tokens]
}

run "invalid_lambda_runtime_1" {
  command = plan

  variables {
    lambda_runtime = "python3.11"
  }

  expect_failures = [var.lambda_runtime]
}

run "invalid_lambda_architecture_1" {
  command = plan

  variables {
    lambda_architecture = "arm"
  }

  expect_failures = [var.lambda_architecture]
}

run "invalid_lambda_memory_size_1" {
  command = plan

  variables {
    lambda_memory_size = 100
  }

  expect_failures = [var.lambda_memory_size]
}

run "invalid_lambda_timeout_1" {
  command = plan

  variables {
    lambda_timeout = 901
  }

  expect_failures = [var.lambda_timeout]
}

run "invalid_reserved_concurrent_executions_1" {
  command = plan

  variables {
    reserved_concurrent_executions = -2
  }

  expect_failures = [var.reserved_concurrent_executions]
}

run "invalid_reserved_concurrent_executions_2" {
  command = plan

  variables {
    reserved_concurrent_executions = 0
  }

  expect_failures = [var.reserved_concurrent_executions]
}

run "invalid_reserved_concurrent_executions_3" {
  command = plan

  variables {
    reserved_concurrent_executions = 1
    provisioned_concurrency        = 2
  }

  expect_failures = [var.reserved_concurrent_executions]
}

run "invalid_provisioned_concurrency_1" {
  command = plan

  variables {
    provisioned_concurrency = 101
  }

  expect_failures = [var.provisioned_concurrency]
}

run "invalid_tracing_mode_1" {
  command = plan

  variables {
    tracing_mode = "active"
  }

  expect_failures = [var.tracing_mode]
}

run "invalid_lambda_kms_key_arn_1" {
  command = plan

  variables {
    lambda_kms_key_arn = "alias/lambda"
  }

  expect_failures = [var.lambda_kms_key_arn]
}

run "invalid_create_function_url_1" {
  command = plan

  variables {
    create_function_url = null
  }

  expect_failures = [var.create_function_url]
}

run "invalid_log_retention_days_1" {
  command = plan

  variables {
    log_retention_days = 10
  }

  expect_failures = [var.log_retention_days]
}

run "invalid_log_kms_key_arn_1" {
  command = plan

  variables {
    log_kms_key_arn = "1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  expect_failures = [var.log_kms_key_arn]
}

run "invalid_application_log_level_1" {
  command = plan

  variables {
    application_log_level = "info"
  }

  expect_failures = [var.application_log_level]
}

run "invalid_system_log_level_1" {
  command = plan

  variables {
    system_log_level = "ERROR"
  }

  expect_failures = [var.system_log_level]
}

run "invalid_create_vpc_endpoints_1" {
  command = plan

  variables {
    create_vpc_endpoints = null
  }

  expect_failures = [var.create_vpc_endpoints]
}

run "invalid_vpc_endpoint_services_1" {
  command = plan

  variables {
    vpc_endpoint_services = ["rds-data", "logs"]
  }

  expect_failures = [var.vpc_endpoint_services]
}

run "invalid_vpc_endpoint_route_table_ids_1" {
  command = plan

  variables {
    vpc_endpoint_route_table_ids = ["rt-1"]
  }

  expect_failures = [var.vpc_endpoint_route_table_ids]
}

run "invalid_vpc_endpoint_route_table_ids_2" {
  command = plan

  variables {
    create_vpc_endpoints = true
  }

  expect_failures = [var.vpc_endpoint_route_table_ids]
}

run "invalid_create_conversation_table_1" {
  command = plan

  variables {
    create_conversation_table = null
  }

  expect_failures = [var.create_conversation_table]
}

run "invalid_conversation_table_kms_key_arn_1" {
  command = plan

  variables {
    conversation_table_kms_key_arn = "alias/conversations"
  }

  expect_failures = [var.conversation_table_kms_key_arn]
}

run "invalid_conversation_idle_minutes_1" {
  command = plan

  variables {
    conversation_idle_minutes = 4
  }

  expect_failures = [var.conversation_idle_minutes]
}

run "invalid_conversation_max_turns_1" {
  command = plan

  variables {
    conversation_max_turns = 21
  }

  expect_failures = [var.conversation_max_turns]
}

run "invalid_api_gateway_budget_ms_1" {
  command = plan

  variables {
    api_gateway_budget_ms = 999
  }

  expect_failures = [var.api_gateway_budget_ms]
}

run "invalid_cors_allow_origin_1" {
  command = plan

  variables {
    cors_allow_origin = "*"
  }

  expect_failures = [var.cors_allow_origin]
}

run "invalid_writes_enabled_1" {
  command = plan

  variables {
    writes_enabled            = true
    create_conversation_table = false
  }

  expect_failures = [var.writes_enabled]
}

run "invalid_create_limits_table_1" {
  command = plan

  variables {
    create_limits_table = null
  }

  expect_failures = [var.create_limits_table]
}

run "invalid_limits_table_kms_key_arn_1" {
  command = plan

  variables {
    limits_table_kms_key_arn = "alias/limits"
  }

  expect_failures = [var.limits_table_kms_key_arn]
}

run "invalid_rate_limit_client_per_minute_1" {
  command = plan

  variables {
    rate_limit_client_per_minute = -1
  }

  expect_failures = [var.rate_limit_client_per_minute]
}

run "invalid_rate_limit_client_per_day_1" {
  command = plan

  variables {
    rate_limit_client_per_day = 20001
  }

  expect_failures = [var.rate_limit_client_per_day]
}

run "invalid_rate_limit_client_tokens_per_day_1" {
  command = plan

  variables {
    rate_limit_client_tokens_per_day = 1.5
  }

  expect_failures = [var.rate_limit_client_tokens_per_day]
}

run "invalid_rate_limit_conversation_per_minute_1" {
  command = plan

  variables {
    rate_limit_conversation_per_minute = 100001
  }

  expect_failures = [var.rate_limit_conversation_per_minute]
}

run "invalid_daily_token_cap_1" {
  command = plan

  variables {
    daily_token_cap = -1
  }

  expect_failures = [var.daily_token_cap]
}

run "invalid_client_address_source_1" {
  command = plan

  variables {
    client_address_source = "x-forwarded-for"
  }

  expect_failures = [var.client_address_source]
}

run "invalid_trusted_proxy_hops_1" {
  command = plan

  variables {
    trusted_proxy_hops = 6
  }

  expect_failures = [var.trusted_proxy_hops]
}

run "invalid_write_groups_1" {
  command = plan

  variables {
    write_groups = ["staff,admins"]
  }

  expect_failures = [var.write_groups]
}

run "invalid_write_groups_2" {
  command = plan

  variables {
    write_groups = ["staff", "staff"]
  }

  expect_failures = [var.write_groups]
}

run "invalid_api_gateway_execution_arn_1" {
  command = plan

  variables {
    api_gateway_execution_arn = "arn:aws:execute-api:ap-northeast-2:123456789012:abcde12345/v1"
  }

  expect_failures = [var.api_gateway_execution_arn]
}

run "invalid_alb_listener_arn_1" {
  command = plan

  variables {
    alb_listener_arn = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/app/web/0123456789abcdef"
  }

  expect_failures = [var.alb_listener_arn]
}

run "invalid_alb_listener_rule_priority_1" {
  command = plan

  variables {
    alb_listener_rule_priority = 0
  }

  expect_failures = [var.alb_listener_rule_priority]
}

run "invalid_alb_authenticate_cognito_1" {
  command = plan

  variables {
    alb_listener_arn = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:listener/app/web/0123456789abcdef/0123456789abcdef"
    alb_authenticate_cognito = {
      user_pool_arn       = "arn:aws:cognito-idp:ap-northeast-2:123456789012:userpool/petclinic"
      user_pool_client_id = "1h57kf5cpq17m0eml12EXAMPLE"
      user_pool_domain    = "petclinic-staff"
    }
  }

  expect_failures = [var.alb_authenticate_cognito]
}

run "invalid_alb_authenticate_cognito_2" {
  command = plan

  variables {
    alb_listener_arn = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:listener/app/web/0123456789abcdef/0123456789abcdef"
    alb_authenticate_cognito = {
      user_pool_arn       = "arn:aws:cognito-idp:ap-northeast-2:123456789012:userpool/ap-northeast-2_AbC123"
      user_pool_client_id = "client-id"
      user_pool_domain    = "petclinic-staff"
    }
  }

  expect_failures = [var.alb_authenticate_cognito]
}

run "invalid_alb_authenticate_cognito_3" {
  command = plan

  variables {
    alb_listener_arn = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:listener/app/web/0123456789abcdef/0123456789abcdef"
    alb_authenticate_cognito = {
      user_pool_arn       = "arn:aws:cognito-idp:ap-northeast-2:123456789012:userpool/ap-northeast-2_AbC123"
      user_pool_client_id = "1h57kf5cpq17m0eml12EXAMPLE"
      user_pool_domain    = "https://auth.example.com"
    }
  }

  expect_failures = [var.alb_authenticate_cognito]
}

run "invalid_alb_authenticate_cognito_4" {
  command = plan

  variables {
    alb_listener_arn = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:listener/app/web/0123456789abcdef/0123456789abcdef"
    alb_authenticate_cognito = {
      user_pool_arn              = "arn:aws:cognito-idp:ap-northeast-2:123456789012:userpool/ap-northeast-2_AbC123"
      user_pool_client_id        = "1h57kf5cpq17m0eml12EXAMPLE"
      user_pool_domain           = "petclinic-staff"
      on_unauthenticated_request = "redirect"
    }
  }

  expect_failures = [var.alb_authenticate_cognito]
}

run "invalid_alb_authenticate_cognito_5" {
  command = plan

  variables {
    alb_authenticate_cognito = {
      user_pool_arn       = "arn:aws:cognito-idp:ap-northeast-2:123456789012:userpool/ap-northeast-2_AbC123"
      user_pool_client_id = "1h57kf5cpq17m0eml12EXAMPLE"
      user_pool_domain    = "petclinic-staff"
    }
  }

  expect_failures = [var.alb_authenticate_cognito]
}

run "invalid_metrics_namespace_1" {
  command = plan

  variables {
    metrics_namespace = "AWS/Lambda"
  }

  expect_failures = [var.metrics_namespace]
}

run "invalid_create_alarms_1" {
  command = plan

  variables {
    create_alarms = null
  }

  expect_failures = [var.create_alarms]
}

run "invalid_alarm_topic_arn_1" {
  command = plan

  variables {
    alarm_topic_arn = "ops-alarms"
  }

  expect_failures = [var.alarm_topic_arn]
}

run "invalid_alarm_topic_arn_2" {
  command = plan

  variables {
    alarm_topic_arn         = "arn:aws:sns:ap-northeast-2:123456789012:ops"
    create_alarm_topic      = true
    alarm_topic_kms_key_arn = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  expect_failures = [var.alarm_topic_arn]
}

run "invalid_create_alarm_topic_1" {
  command = plan

  variables {
    create_alarm_topic = null
  }

  expect_failures = [var.create_alarm_topic]
}

run "invalid_alarm_topic_kms_key_arn_1" {
  command = plan

  variables {
    alarm_topic_kms_key_arn = "alias/sns"
  }

  expect_failures = [var.alarm_topic_kms_key_arn]
}

run "invalid_alarm_topic_kms_key_arn_2" {
  command = plan

  variables {
    create_alarm_topic = true
  }

  expect_failures = [var.alarm_topic_kms_key_arn]
}

run "invalid_alarm_tokens_per_hour_1" {
  command = plan

  variables {
    alarm_tokens_per_hour = 999
  }

  expect_failures = [var.alarm_tokens_per_hour]
}

run "invalid_create_dashboard_1" {
  command = plan

  variables {
    create_dashboard = null
  }

  expect_failures = [var.create_dashboard]
}

run "invalid_anonymous_read_scope_1" {
  command = plan

  variables {
    anonymous_read_scope = "public"
  }

  expect_failures = [var.anonymous_read_scope]
}
