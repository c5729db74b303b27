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
  description = "How the function turns the model ID into an inference-profile ID: auto (by Region), none (call the model ID as given), or a fixed prefix."
  type        = string
  default     = "auto"

  validation {
    condition     = contains(["auto", "none", "us", "eu", "apac", "jp", "au", "us-gov", "global"], var.bedrock_inference_profile)
    error_message = "bedrock_inference_profile must be one of: auto, none, us, eu, apac, jp, au, us-gov, global."
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
  description = "Reserved concurrency: -1 leaves it unreserved, 0 stops the function, N caps it (and the Bedrock spend)."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrent_executions >= -1 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "reserved_concurrent_executions must be -1 (unreserved) or a whole number >= 0."
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
  description = "Create interface VPC endpoints (rds-data, bedrock-runtime, secretsmanager, logs) so the function needs no NAT gateway."
  type        = bool
  default     = false

  validation {
    condition     = var.create_vpc_endpoints == true || var.create_vpc_endpoints == false
    error_message = "create_vpc_endpoints must be true or false."
  }
}
