###############################################################################
# Naming and provider
###############################################################################

variable "name_prefix" {
  description = "Prefix of every resource name, e.g. petclinic."
  type        = string
  default     = "petclinic"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters: lowercase letters, digits and '-', starting with a letter."
  }
}

variable "environment" {
  description = "Deployment environment, part of resource names and tags."
  type        = string
  default     = "dev"

  validation {
    condition     = contains(["dev", "stg", "prod"], var.environment)
    error_message = "environment must be one of: dev, stg, prod."
  }
}

variable "aws_region" {
  description = "AWS Region to deploy into. The function reads it from the Lambda runtime; it is never set as an environment variable."
  type        = string
  default     = "ap-northeast-2"

  validation {
    condition     = can(regex("^(us|eu|ap|ca|sa|me|af|il|mx|us-gov)-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a Region code such as ap-northeast-2, us-east-1 or eu-central-1."
  }
}

variable "aws_profile" {
  description = "Named AWS CLI profile for the provider; null uses the default credential chain."
  type        = string
  default     = null

  validation {
    condition     = var.aws_profile == null || can(regex("^[A-Za-z0-9._-]+$", var.aws_profile))
    error_message = "aws_profile must be null or a profile name of letters, digits, '.', '_' or '-'."
  }
}

variable "tags" {
  description = "Tags added to every resource (through the provider's default_tags)."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(var.tags) <= 40
    error_message = "tags must hold at most 40 entries (AWS allows 50 per resource; some are added here)."
  }
}

###############################################################################
# Where the network and database come from
###############################################################################

variable "remote_state_bucket" {
  description = "S3 bucket holding the 01-network and 03-database layers' state. Empty when vpc_id, private_subnet_ids, db_cluster_arn and db_secret_arn are all set."
  type        = string
  default     = ""

  validation {
    condition     = var.remote_state_bucket == "" || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.remote_state_bucket))
    error_message = "remote_state_bucket must be empty or a valid S3 bucket name."
  }
}

variable "network_state_key" {
  description = "State key of the network layer (outputs vpc_id and private_app_subnet_ids)."
  type        = string
  default     = "01-network/terraform.tfstate"

  validation {
    condition     = can(regex("^[^\\s]+\\.tfstate$", var.network_state_key))
    error_message = "network_state_key must be an S3 key ending in .tfstate, e.g. 01-network/terraform.tfstate."
  }
}

variable "database_state_key" {
  description = "State key of the database layer (outputs cluster_arn and the master user secret ARN)."
  type        = string
  default     = "03-database/terraform.tfstate"

  validation {
    condition     = can(regex("^[^\\s]+\\.tfstate$", var.database_state_key))
    error_message = "database_state_key must be an S3 key ending in .tfstate, e.g. 03-database/terraform.tfstate."
  }
}

variable "database_secret_arn_output" {
  description = "Name of the database layer's output holding the master user secret ARN (an ARN, not the secret name)."
  type        = string
  default     = "master_user_secret_arn"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]*$", var.database_secret_arn_output))
    error_message = "database_secret_arn_output must be a Terraform output name such as master_user_secret_arn."
  }
}

variable "vpc_id" {
  description = "VPC for the function; set it (with private_subnet_ids) to skip the network layer's remote state."
  type        = string
  default     = null

  validation {
    condition     = var.vpc_id == null || can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must be null or a VPC ID such as vpc-0123456789abcdef0."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets for the function's ENIs; replaces the network layer's private_app_subnet_ids when set."
  type        = list(string)
  default     = null

  validation {
    condition     = var.private_subnet_ids == null || alltrue([for id in coalesce(var.private_subnet_ids, []) : can(regex("^subnet-[0-9a-f]{8,17}$", id))])
    error_message = "private_subnet_ids must be null or a list of subnet IDs such as subnet-0123456789abcdef0."
  }
}

variable "db_cluster_arn" {
  description = "Aurora cluster ARN (Data API enabled); replaces the database layer's cluster_arn when set."
  type        = string
  default     = null

  validation {
    condition     = var.db_cluster_arn == null || can(regex("^arn:aws[a-z-]*:rds:[a-z0-9-]+:[0-9]{12}:cluster:[A-Za-z][A-Za-z0-9-]*$", var.db_cluster_arn))
    error_message = "db_cluster_arn must be null or an RDS cluster ARN: arn:aws:rds:<region>:<account>:cluster:<name>."
  }
}

variable "db_secret_arn" {
  description = "Secrets Manager secret ARN with the database credentials (not the secret's name); replaces the database layer's output when set."
  type        = string
  default     = null

  validation {
    condition     = var.db_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@!-]+$", var.db_secret_arn))
    error_message = "db_secret_arn must be null or a secret ARN: arn:aws:secretsmanager:<region>:<account>:secret:<name>-<suffix>."
  }
}

variable "db_secret_kms_key_arn" {
  description = "Customer managed KMS key that encrypts the database secret, if any (grants kms:Decrypt through Secrets Manager only)."
  type        = string
  default     = null

  validation {
    condition     = var.db_secret_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.db_secret_kms_key_arn))
    error_message = "db_secret_kms_key_arn must be null or a KMS key ARN: arn:aws:kms:<region>:<account>:key/<id>."
  }
}

variable "db_name" {
  description = "Database name passed to the Data API (DB_NAME)."
  type        = string
  default     = "petclinic"

  validation {
    condition     = can(regex("^[A-Za-z0-9_$]{1,64}$", var.db_name))
    error_message = "db_name must be 1-64 letters, digits, '_' or '$'."
  }
}

###############################################################################
# Bedrock
###############################################################################

variable "bedrock_model_id" {
  description = "Claude model on Bedrock: a base model ID (the function picks the inference profile for the Region) or an ID with a profile prefix (us., eu., apac., jp., au., us-gov., global.)."
  type        = string
  default     = "anthropic.claude-haiku-4-5-20251001-v1:0"

  validation {
    condition     = can(regex("^((us|eu|apac|jp|au|us-gov|global)\\.)?anthropic\\.claude-[a-z0-9-]+(-v[0-9]+(:[0-9]+)?)?$", var.bedrock_model_id))
    error_message = "bedrock_model_id must be an Anthropic Claude model ID, optionally prefixed with one of: us., eu., apac., jp., au., us-gov., global. (e.g. anthropic.claude-haiku-4-5-20251001-v1:0)."
  }
}

variable "bedrock_inference_profile" {
  description = "How the function turns the model ID into the inference-profile ID it calls first: auto (by Region), none (the model ID as given), or a fixed prefix. When Bedrock refuses that ID the function falls back (output bedrock_model_id_candidates)."
  type        = string
  default     = "auto"

  validation {
    condition     = contains(["auto", "none", "us", "eu", "apac", "jp", "au", "us-gov", "global"], var.bedrock_inference_profile)
    error_message = "bedrock_inference_profile must be one of: auto, none, us, eu, apac, jp, au, us-gov, global."
  }
}

variable "bedrock_check_inference_profile" {
  description = "At plan time, list the Region's inference profiles and fail the plan when the one the function calls first (output bedrock_model_id) is not among them; skipped when that ID is a base model ID. Whoever plans needs bedrock:ListInferenceProfiles: set false to plan without it."
  type        = bool
  default     = true

  validation {
    condition     = var.bedrock_check_inference_profile == true || var.bedrock_check_inference_profile == false
    error_message = "bedrock_check_inference_profile must be true or false."
  }
}

variable "max_tool_rounds" {
  description = "Tool rounds the model may take per question (MAX_TOOL_ROUNDS)."
  type        = number
  default     = 4

  validation {
    condition     = var.max_tool_rounds >= 1 && var.max_tool_rounds <= 10 && floor(var.max_tool_rounds) == var.max_tool_rounds
    error_message = "max_tool_rounds must be a whole number from 1 to 10."
  }
}

variable "max_output_tokens" {
  description = "Maximum output tokens per model call (MAX_OUTPUT_TOKENS)."
  type        = number
  default     = 1024

  validation {
    condition     = var.max_output_tokens >= 64 && var.max_output_tokens <= 8192 && floor(var.max_output_tokens) == var.max_output_tokens
    error_message = "max_output_tokens must be a whole number from 64 to 8192."
  }
}

###############################################################################
# The function
###############################################################################

variable "lambda_runtime" {
  description = "Lambda runtime. python3.11 (the seed's) runs on Amazon Linux 2 and is not offered."
  type        = string
  default     = "python3.13"

  validation {
    condition     = contains(["python3.12", "python3.13", "python3.14"], var.lambda_runtime)
    error_message = "lambda_runtime must be one of: python3.12, python3.13, python3.14."
  }
}

variable "lambda_architecture" {
  description = "Instruction set of the function (the code is pure Python)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be one of: arm64, x86_64."
  }
}

variable "lambda_memory_size" {
  description = "Memory in MB (CPU scales with it)."
  type        = number
  default     = 512

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240 && floor(var.lambda_memory_size) == var.lambda_memory_size
    error_message = "lambda_memory_size must be a whole number of MB from 128 to 10240."
  }
}

variable "lambda_timeout" {
  description = "Timeout in seconds. The function stops calling the model when fewer than 8 s remain."
  type        = number
  default     = 60

  validation {
    condition     = var.lambda_timeout >= 1 && var.lambda_timeout <= 900 && floor(var.lambda_timeout) == var.lambda_timeout
    error_message = "lambda_timeout must be a whole number of seconds from 1 to 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency: -1 leaves it unreserved; N caps it (and the Bedrock spend) and must be at least provisioned_concurrency."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrent_executions >= -1 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "reserved_concurrent_executions must be -1 (unreserved) or a whole number >= 1."
  }
  validation {
    condition     = var.reserved_concurrent_executions != 0
    error_message = "reserved_concurrent_executions = 0 throttles every invocation (and fails beside provisioned concurrency): use -1 for unreserved or N >= 1 to cap it."
  }
  validation {
    condition     = var.reserved_concurrent_executions == -1 || var.reserved_concurrent_executions >= var.provisioned_concurrency
    error_message = "reserved_concurrent_executions (${var.reserved_concurrent_executions}) is below provisioned_concurrency (${var.provisioned_concurrency}): Lambda refuses that at apply. Raise it or use -1."
  }
}

variable "provisioned_concurrency" {
  description = "Provisioned concurrency on the 'live' alias against VPC cold starts; 0 creates no alias and no provisioned concurrency."
  type        = number
  default     = 0

  validation {
    condition     = var.provisioned_concurrency >= 0 && var.provisioned_concurrency <= 100 && floor(var.provisioned_concurrency) == var.provisioned_concurrency
    error_message = "provisioned_concurrency must be a whole number from 0 to 100."
  }
}

variable "tracing_mode" {
  description = "AWS X-Ray tracing of the function."
  type        = string
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be one of: Active, PassThrough."
  }
}

variable "lambda_kms_key_arn" {
  description = "Customer managed KMS key for the function's environment variables; null uses the AWS managed key (they hold no secrets)."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.lambda_kms_key_arn))
    error_message = "lambda_kms_key_arn must be null or a KMS key ARN: arn:aws:kms:<region>:<account>:key/<id>."
  }
}

variable "create_function_url" {
  description = "Create a Lambda Function URL (AWS_IAM auth only: callers sign with SigV4)."
  type        = bool
  default     = false

  validation {
    condition     = var.create_function_url == true || var.create_function_url == false
    error_message = "create_function_url must be true or false."
  }
}

###############################################################################
# Logs
###############################################################################

variable "log_retention_days" {
  description = "Days CloudWatch keeps the function's logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_kms_key_arn" {
  description = "Customer managed KMS key for the log group; null uses CloudWatch's default encryption. The key policy must allow the logs service."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be null or a KMS key ARN: arn:aws:kms:<region>:<account>:key/<id>."
  }
}

variable "application_log_level" {
  description = "Lowest level of the function's own JSON log records that reach CloudWatch."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.application_log_level)
    error_message = "application_log_level must be one of: TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "system_log_level" {
  description = "Lowest level of the Lambda platform's log records that reach CloudWatch."
  type        = string
  default     = "WARN"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN"], var.system_log_level)
    error_message = "system_log_level must be one of: DEBUG, INFO, WARN."
  }
}

###############################################################################
# Network
###############################################################################

variable "create_vpc_endpoints" {
  description = "Create the VPC endpoints listed in vpc_endpoint_services (only what the function calls) so it needs no NAT gateway."
  type        = bool
  default     = false

  validation {
    condition     = var.create_vpc_endpoints == true || var.create_vpc_endpoints == false
    error_message = "create_vpc_endpoints must be true or false."
  }
}

variable "vpc_endpoint_services" {
  description = "Which endpoints create_vpc_endpoints creates: rds-data and bedrock-runtime (interface, private DNS), dynamodb (gateway, on vpc_endpoint_route_table_ids). Drop a service the VPC already has an endpoint for."
  type        = set(string)
  default     = ["bedrock-runtime", "dynamodb", "rds-data"]

  validation {
    condition     = length(setsubtract(var.vpc_endpoint_services, ["bedrock-runtime", "dynamodb", "rds-data"])) == 0
    error_message = "vpc_endpoint_services may hold only bedrock-runtime, dynamodb and rds-data: the function calls nothing else (the Data API reads the secret itself; Lambda ships the logs outside the VPC)."
  }
}

variable "vpc_endpoint_route_table_ids" {
  description = "Route tables of the function's private subnets, for the DynamoDB gateway endpoint (needed when it is created for the conversation or limits table)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.vpc_endpoint_route_table_ids : can(regex("^rtb-[0-9a-f]{8,17}$", id))])
    error_message = "vpc_endpoint_route_table_ids must be route table IDs such as rtb-0123456789abcdef0."
  }
  validation {
    condition     = !(var.create_vpc_endpoints && contains(var.vpc_endpoint_services, "dynamodb") && (var.create_conversation_table || var.create_limits_table)) || length(var.vpc_endpoint_route_table_ids) > 0
    error_message = "The DynamoDB gateway endpoint needs the private subnets' route tables: set vpc_endpoint_route_table_ids, or drop dynamodb from vpc_endpoint_services (NAT or an existing endpoint)."
  }
}

###############################################################################
# Conversation memory and the HTTP contract
###############################################################################

variable "create_conversation_table" {
  description = "Create the DynamoDB conversation table and pass its name as CONVERSATION_TABLE (memory on); false passes an empty name (memory off)."
  type        = bool
  default     = true

  validation {
    condition     = var.create_conversation_table == true || var.create_conversation_table == false
    error_message = "create_conversation_table must be true or false."
  }
}

variable "conversation_table_kms_key_arn" {
  description = "Customer managed KMS key for the conversation table; null uses the DynamoDB AWS managed key (the role then gets kms:Decrypt through DynamoDB only)."
  type        = string
  default     = null

  validation {
    condition     = var.conversation_table_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.conversation_table_kms_key_arn))
    error_message = "conversation_table_kms_key_arn must be null or a KMS key ARN: arn:aws:kms:<region>:<account>:key/<id>."
  }
}

variable "conversation_idle_minutes" {
  description = "A conversation is forgotten after this idle time (CONVERSATION_IDLE_MINUTES, through the table's TTL)."
  type        = number
  default     = 60

  validation {
    condition     = var.conversation_idle_minutes >= 5 && var.conversation_idle_minutes <= 10080 && floor(var.conversation_idle_minutes) == var.conversation_idle_minutes
    error_message = "conversation_idle_minutes must be a whole number from 5 to 10080 (one week)."
  }
}

variable "conversation_max_turns" {
  description = "Turns (question and answer) given back to the model (CONVERSATION_MAX_TURNS)."
  type        = number
  default     = 5

  validation {
    condition     = var.conversation_max_turns >= 1 && var.conversation_max_turns <= 20 && floor(var.conversation_max_turns) == var.conversation_max_turns
    error_message = "conversation_max_turns must be a whole number from 1 to 20."
  }
}

variable "api_gateway_budget_ms" {
  description = "Time budget of API Gateway invocations in ms (API_GATEWAY_BUDGET_MS): the function answers its own 504 before API Gateway's 29 s integration timeout."
  type        = number
  default     = 28000

  validation {
    condition     = var.api_gateway_budget_ms >= 1000 && var.api_gateway_budget_ms <= 900000 && floor(var.api_gateway_budget_ms) == var.api_gateway_budget_ms
    error_message = "api_gateway_budget_ms must be a whole number of ms from 1000 to 900000."
  }
}

variable "cors_allow_origin" {
  description = "Origin allowed by CORS (CORS_ALLOW_ORIGIN); empty sends no CORS headers (the page is same-origin behind CloudFront)."
  type        = string
  default     = ""

  validation {
    condition     = var.cors_allow_origin == "" || can(regex("^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$", var.cors_allow_origin))
    error_message = "cors_allow_origin must be empty or one origin such as https://petclinic.example.com (scheme and host, no path, no '*')."
  }
}

variable "writes_enabled" {
  description = "Offer the write tools (add owner, pet, visit; confirmed first) and grant the Data API transaction actions (WRITES_ENABLED). Needs the conversation table."
  type        = bool
  default     = false

  validation {
    condition     = !var.writes_enabled || var.create_conversation_table
    error_message = "writes_enabled = true needs create_conversation_table = true: a pending write waits for confirmation in the conversation."
  }
}

###############################################################################
# On the public internet: rate limits, the daily token cap, who the client is, who may write
###############################################################################

variable "create_limits_table" {
  description = "Create the DynamoDB limits table (rate-limit windows, the day's token count) and pass its name as LIMITS_TABLE; false passes an empty name: no rate limits and no daily token cap."
  type        = bool
  default     = true

  validation {
    condition     = var.create_limits_table == true || var.create_limits_table == false
    error_message = "create_limits_table must be true or false."
  }
}

variable "limits_table_kms_key_arn" {
  description = "Customer managed KMS key for the limits table; null uses the DynamoDB AWS managed key (the role then gets kms:Decrypt through DynamoDB only)."
  type        = string
  default     = null

  validation {
    condition     = var.limits_table_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.limits_table_kms_key_arn))
    error_message = "limits_table_kms_key_arn must be null or a KMS key ARN: arn:aws:kms:<region>:<account>:key/<id>."
  }
}

variable "rate_limit_client_per_minute" {
  description = "Questions one client (address, or signed-in principal) may ask per minute, fixed window (RATE_LIMIT_CLIENT_PER_MINUTE); 0 turns this limit off."
  type        = number
  default     = 20

  validation {
    condition     = var.rate_limit_client_per_minute >= 0 && var.rate_limit_client_per_minute <= 100000 && floor(var.rate_limit_client_per_minute) == var.rate_limit_client_per_minute
    error_message = "rate_limit_client_per_minute must be a whole number from 0 (off) to 100000."
  }
}

variable "rate_limit_client_per_day" {
  description = "Questions one client may ask per UTC day (RATE_LIMIT_CLIENT_PER_DAY); 0 turns this limit off."
  type        = number
  default     = 500

  validation {
    condition     = var.rate_limit_client_per_day >= 0 && var.rate_limit_client_per_day <= 20000 && floor(var.rate_limit_client_per_day) == var.rate_limit_client_per_day
    error_message = "rate_limit_client_per_day must be a whole number from 0 (off) to 20000 (the day's item keeps a tag per question admitted, within DynamoDB's 400 KB)."
  }
}

variable "rate_limit_client_tokens_per_day" {
  description = "Model tokens (input + output) one client may spend per UTC day (RATE_LIMIT_CLIENT_TOKENS_PER_DAY), so that one client cannot spend the whole daily_token_cap; 0 turns this limit off."
  type        = number
  default     = 400000

  validation {
    condition     = var.rate_limit_client_tokens_per_day >= 0 && var.rate_limit_client_tokens_per_day <= 10000000000 && floor(var.rate_limit_client_tokens_per_day) == var.rate_limit_client_tokens_per_day
    error_message = "rate_limit_client_tokens_per_day must be a whole number from 0 (off) to 10000000000."
  }
}

variable "rate_limit_conversation_per_minute" {
  description = "Questions one conversation may ask per minute, fixed window (RATE_LIMIT_CONVERSATION_PER_MINUTE); 0 turns this limit off."
  type        = number
  default     = 6

  validation {
    condition     = var.rate_limit_conversation_per_minute >= 0 && var.rate_limit_conversation_per_minute <= 100000 && floor(var.rate_limit_conversation_per_minute) == var.rate_limit_conversation_per_minute
    error_message = "rate_limit_conversation_per_minute must be a whole number from 0 (off) to 100000."
  }
}

variable "daily_token_cap" {
  description = "Model tokens (input + output) the whole function may spend per UTC day (DAILY_TOKEN_CAP); questions are refused once it is reached. Soft: questions in flight still finish. 0 turns the cap off. Needs create_limits_table."
  type        = number
  default     = 2000000

  validation {
    condition     = var.daily_token_cap >= 0 && var.daily_token_cap <= 10000000000 && floor(var.daily_token_cap) == var.daily_token_cap
    error_message = "daily_token_cap must be a whole number of tokens from 0 (off) to 10000000000."
  }
}

variable "client_address_source" {
  description = "Which address keys an anonymous client's limits (CLIENT_ADDRESS_SOURCE): viewer (CloudFront-Viewer-Address, else the trusted X-Forwarded-For entry), forwarded (the trusted X-Forwarded-For entry only), connection (the connecting address, requestContext sourceIp)."
  type        = string
  default     = "viewer"

  validation {
    condition     = contains(["viewer", "forwarded", "connection"], var.client_address_source)
    error_message = "client_address_source must be one of: viewer, forwarded, connection."
  }
}

variable "trusted_proxy_hops" {
  description = "Proxies in front of API Gateway or the ALB that append to X-Forwarded-For (TRUSTED_PROXY_HOPS; CloudFront = 1): the client is that many entries from the right, never the client-written left-most one."
  type        = number
  default     = 1

  validation {
    condition     = var.trusted_proxy_hops >= 0 && var.trusted_proxy_hops <= 5 && floor(var.trusted_proxy_hops) == var.trusted_proxy_hops
    error_message = "trusted_proxy_hops must be a whole number from 0 to 5."
  }
}

variable "write_groups" {
  description = "Cognito groups (cognito:groups claim) whose members may write, joined with commas into WRITE_GROUPS; empty lets any authenticated principal write. Writes also need writes_enabled."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for group in var.write_groups : can(regex("^[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]{1,128}$", group)) && !strcontains(group, ",")])
    error_message = "write_groups must hold Cognito group names: 1-128 letters, digits, symbols or punctuation, no spaces and no ',' (the list is passed comma-separated)."
  }
  validation {
    condition     = length(var.write_groups) <= 20 && length(distinct(var.write_groups)) == length(var.write_groups)
    error_message = "write_groups must hold at most 20 distinct group names."
  }
}

###############################################################################
# Wiring for the neighbouring layers (optional)
###############################################################################

variable "api_gateway_execution_arn" {
  description = "Execution ARN of the REST API that proxies /api/genai to this function; set it to add the Lambda permission for that API only."
  type        = string
  default     = null

  validation {
    condition     = var.api_gateway_execution_arn == null || can(regex("^arn:aws[a-z-]*:execute-api:[a-z0-9-]+:[0-9]{12}:[a-z0-9]{10}$", var.api_gateway_execution_arn))
    error_message = "api_gateway_execution_arn must be null or an API execution ARN: arn:aws:execute-api:<region>:<account>:<api-id> (no stage or path)."
  }
}

variable "alb_listener_arn" {
  description = "ARN of an Application Load Balancer listener; set it to add a Lambda target group, its permission and a rule for /api/genai and /api/genai/*."
  type        = string
  default     = null

  validation {
    condition     = var.alb_listener_arn == null || can(regex("^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:listener/app/[A-Za-z0-9-]+/[0-9a-f]+/[0-9a-f]+$", var.alb_listener_arn))
    error_message = "alb_listener_arn must be null or an ALB listener ARN: arn:aws:elasticloadbalancing:<region>:<account>:listener/app/<name>/<id>/<id>."
  }
}

variable "alb_listener_rule_priority" {
  description = "Priority of the ALB listener rule for /api/genai (unique on the listener; lower wins)."
  type        = number
  default     = 100

  validation {
    condition     = var.alb_listener_rule_priority >= 1 && var.alb_listener_rule_priority <= 50000 && floor(var.alb_listener_rule_priority) == var.alb_listener_rule_priority
    error_message = "alb_listener_rule_priority must be a whole number from 1 to 50000."
  }
}

variable "alb_authenticate_cognito" {
  description = "Sign ALB callers in with a Cognito user pool: adds an authenticate-cognito action before the forward action of the listener rule (an HTTPS listener) and sets ALB_OIDC_AUTH = true and ALB_ARN (the listener's load balancer), so the function trusts the x-amzn-oidc-* headers once x-amzn-oidc-data's ES256 signature verifies under the ELB key for its kid and names that load balancer as signer (the function then needs HTTPS egress to public-keys.auth.elb.<region>.amazonaws.com). on_unauthenticated_request: authenticate (redirect to sign-in), deny (401) or allow (pass anonymous callers on without claims). Needs alb_listener_arn."
  type = object({
    user_pool_arn              = string
    user_pool_client_id        = string
    user_pool_domain           = string
    on_unauthenticated_request = optional(string, "authenticate")
  })
  default = null

  validation {
    condition     = var.alb_authenticate_cognito == null || can(regex("^arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:[0-9]{12}:userpool/[a-z0-9-]+_[A-Za-z0-9]+$", var.alb_authenticate_cognito.user_pool_arn))
    error_message = "alb_authenticate_cognito.user_pool_arn must be a user pool ARN: arn:aws:cognito-idp:<region>:<account>:userpool/<region>_<id>."
  }
  validation {
    condition     = var.alb_authenticate_cognito == null || can(regex("^[A-Za-z0-9]{1,128}$", var.alb_authenticate_cognito.user_pool_client_id))
    error_message = "alb_authenticate_cognito.user_pool_client_id must be an app client ID (letters and digits)."
  }
  validation {
    condition     = var.alb_authenticate_cognito == null || can(regex("^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$", var.alb_authenticate_cognito.user_pool_domain))
    error_message = "alb_authenticate_cognito.user_pool_domain must be the user pool's domain prefix (e.g. petclinic-staff) or its custom domain (e.g. auth.example.com)."
  }
  validation {
    condition     = var.alb_authenticate_cognito == null || contains(["authenticate", "deny", "allow"], try(var.alb_authenticate_cognito.on_unauthenticated_request, ""))
    error_message = "alb_authenticate_cognito.on_unauthenticated_request must be one of: authenticate, deny, allow."
  }
  validation {
    condition     = var.alb_authenticate_cognito == null || var.alb_listener_arn != null
    error_message = "alb_authenticate_cognito needs alb_listener_arn: the authentication is an action of this layer's listener rule."
  }
}

###############################################################################
# Monitoring
###############################################################################

variable "metrics_namespace" {
  description = "CloudWatch namespace of the function's EMF metrics (METRICS_NAMESPACE); the alarms and the dashboard read it."
  type        = string
  default     = "PetClinic/GenAI"

  validation {
    condition     = can(regex("^[A-Za-z0-9 ._/#:-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 letters, digits, spaces or . _ / # : - and must not start with AWS/."
  }
}

variable "create_alarms" {
  description = "Create CloudWatch alarms on the function's errors, throttles, duration near the timeout, token spend and model ID fallbacks (Bedrock refused the first choice)."
  type        = bool
  default     = true

  validation {
    condition     = var.create_alarms == true || var.create_alarms == false
    error_message = "create_alarms must be true or false."
  }
}

variable "alarm_topic_arn" {
  description = "Existing SNS topic the alarms notify; null with create_alarm_topic = false leaves the alarms without actions."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be null or an SNS topic ARN: arn:aws:sns:<region>:<account>:<name>."
  }
  validation {
    condition     = var.alarm_topic_arn == null || !var.create_alarm_topic
    error_message = "Set either alarm_topic_arn (use a topic) or create_alarm_topic (create one), not both."
  }
}

variable "create_alarm_topic" {
  description = "Create an SNS topic for the alarms, encrypted with alarm_topic_kms_key_arn (subscribe to it yourself)."
  type        = bool
  default     = false

  validation {
    condition     = var.create_alarm_topic == true || var.create_alarm_topic == false
    error_message = "create_alarm_topic must be true or false."
  }
}

variable "alarm_topic_kms_key_arn" {
  description = "Customer managed KMS key for the created alarm topic; its policy must let cloudwatch.amazonaws.com use it (the AWS managed SNS key does not)."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.alarm_topic_kms_key_arn))
    error_message = "alarm_topic_kms_key_arn must be null or a KMS key ARN: arn:aws:kms:<region>:<account>:key/<id>."
  }
  validation {
    condition     = !var.create_alarm_topic || var.alarm_topic_kms_key_arn != null
    error_message = "create_alarm_topic = true needs alarm_topic_kms_key_arn: CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key."
  }
}

variable "alarm_tokens_per_hour" {
  description = "Token-spend alarm: input plus output tokens per hour (EMF InputTokens + OutputTokens) above which it fires."
  type        = number
  default     = 1000000

  validation {
    condition     = var.alarm_tokens_per_hour >= 1000 && floor(var.alarm_tokens_per_hour) == var.alarm_tokens_per_hour
    error_message = "alarm_tokens_per_hour must be a whole number >= 1000."
  }
}

variable "create_dashboard" {
  description = "Create a CloudWatch dashboard: questions, answer latency, tokens, errors by code, Lambda errors, throttles and duration, the day's tokens, refusals and model ID fallbacks."
  type        = bool
  default     = true

  validation {
    condition     = var.create_dashboard == true || var.create_dashboard == false
    error_message = "create_dashboard must be true or false."
  }
}

variable "anonymous_read_scope" {
  description = "What callers who are not signed in may read: all (everything, as signed-in staff), no_contact (no owner's address or telephone, nor a search or count by them) or clinic (vets, specialties, pet types and counts only; no owner, pet or visit record). Signed-in staff and direct invokes read everything."
  type        = string
  default     = "no_contact"

  validation {
    condition     = contains(["all", "no_contact", "clinic"], var.anonymous_read_scope)
    error_message = "anonymous_read_scope must be all, no_contact or clinic."
  }
}
