###############################################################################
# Account, Region, partition
#
# The Region is var.aws_region, the provider's own (main.tf), not data.aws_region: its attribute is
# `name` in AWS provider 5.x (deprecated in 6.x) and `region` in 6.x only, and the layer accepts both
# majors. The partition follows from that Region (see local.partition in main.tf).
###############################################################################

data "aws_caller_identity" "current" {}

###############################################################################
# The network and database layers. Remote state is read only for what the
# plain variables do not already give, so the layer can also stand alone.
###############################################################################

data "terraform_remote_state" "network" {
  count = var.vpc_id == null || var.private_subnet_ids == null ? 1 : 0

  backend = "s3"
  config = {
    bucket = var.remote_state_bucket
    key    = var.network_state_key
    region = var.aws_region
  }

  lifecycle {
    precondition {
      condition     = var.remote_state_bucket != ""
      error_message = "Set remote_state_bucket to read the 01-network layer's state, or set both vpc_id and private_subnet_ids."
    }
  }
}

data "terraform_remote_state" "database" {
  count = var.db_cluster_arn == null || var.db_secret_arn == null ? 1 : 0

  backend = "s3"
  config = {
    bucket = var.remote_state_bucket
    key    = var.database_state_key
    region = var.aws_region
  }

  lifecycle {
    precondition {
      condition     = var.remote_state_bucket != ""
      error_message = "Set remote_state_bucket to read the 03-database layer's state, or set both db_cluster_arn and db_secret_arn."
    }
  }
}

locals {
  # The remote state's outputs, or null when that state is not read. A given variable always wins;
  # try() guards only the fallback to a remote output (absent state or output: null, which the
  # function's preconditions then report), never the variable itself.
  network_outputs  = one(data.terraform_remote_state.network[*].outputs)
  database_outputs = one(data.terraform_remote_state.database[*].outputs)

  vpc_id = var.vpc_id != null ? var.vpc_id : try(local.network_outputs.vpc_id, null)
  # The network layer may output the subnets as a map (by AZ) or as a list.
  subnet_ids = var.private_subnet_ids != null ? var.private_subnet_ids : try(
    values(local.network_outputs.private_app_subnet_ids),
    tolist(local.network_outputs.private_app_subnet_ids),
    null,
  )
  db_cluster_arn = var.db_cluster_arn != null ? var.db_cluster_arn : try(local.database_outputs.cluster_arn, null)
  db_secret_arn  = var.db_secret_arn != null ? var.db_secret_arn : try(local.database_outputs[var.database_secret_arn_output], null)
}

# The Availability Zone of each private subnet, only when interface endpoints are created.
data "aws_subnet" "this" {
  for_each = length(local.interface_endpoint_services) > 0 ? toset(coalesce(local.subnet_ids, [])) : toset([])

  id = each.value
}

###############################################################################
# Bedrock: the inference profile the function calls first, listed by the Region
###############################################################################

# Read only when bedrock_check_inference_profile is on and the function's first choice is an
# inference profile (a base model ID is a foundation model, not a profile). Whoever plans needs
# bedrock:ListInferenceProfiles. The function's own precondition (main.tf) fails the plan when the
# Region does not list the ID.
data "aws_bedrock_inference_profiles" "this" {
  count = var.bedrock_check_inference_profile && module.bedrock_access.called_model_id != module.bedrock_access.base_model_id ? 1 : 0
}

locals {
  bedrock_listed_profiles = sort(flatten([
    for listing in data.aws_bedrock_inference_profiles.this : listing.inference_profile_summaries[*].inference_profile_id
  ]))
  bedrock_first_profile_listed = length(data.aws_bedrock_inference_profiles.this) == 0 || contains(local.bedrock_listed_profiles, module.bedrock_access.called_model_id)
  # The Region's profiles of the same model: what the plan's message offers instead.
  bedrock_model_profiles = [for id in local.bedrock_listed_profiles : id if endswith(id, ".${module.bedrock_access.base_model_id}")]
  bedrock_profile_hint = (
    length(local.bedrock_model_profiles) > 0 ? "Its profiles of ${module.bedrock_access.base_model_id}: ${join(", ", local.bedrock_model_profiles)} (set bedrock_model_id to one of them, or bedrock_inference_profile to its prefix)." :
    "It lists no profile of ${module.bedrock_access.base_model_id} (its inference profiles: ${length(local.bedrock_listed_profiles) > 0 ? join(", ", local.bedrock_listed_profiles) : "none"}): set bedrock_inference_profile = none to call the model on demand, or choose another bedrock_model_id."
  )
}

###############################################################################
# IAM policy documents
###############################################################################

data "aws_iam_policy_document" "assume_role" {
  statement {
    sid     = "LambdaAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # Reads use ExecuteStatement only (no batches).
  statement {
    sid       = "QueryPetclinicThroughDataApi"
    effect    = "Allow"
    actions   = ["rds-data:ExecuteStatement"]
    resources = [local.db_cluster_arn]
  }

  # A confirmed write runs in one transaction; only with writes_enabled.
  dynamic "statement" {
    for_each = var.writes_enabled ? [1] : []
    content {
      sid       = "WriteInDataApiTransactions"
      effect    = "Allow"
      actions   = ["rds-data:BeginTransaction", "rds-data:CommitTransaction", "rds-data:RollbackTransaction"]
      resources = [local.db_cluster_arn]
    }
  }

  # Conversation memory: read a conversation's items, add one item per turn.
  dynamic "statement" {
    for_each = var.create_conversation_table ? [1] : []
    content {
      sid       = "RememberConversations"
      effect    = "Allow"
      actions   = ["dynamodb:PutItem", "dynamodb:Query"]
      resources = [aws_dynamodb_table.this[0].arn]
    }
  }

  # The pending write action of a conversation is updated (confirmed, cancelled) in place.
  dynamic "statement" {
    for_each = var.create_conversation_table && var.writes_enabled ? [1] : []
    content {
      sid       = "UpdatePendingWrites"
      effect    = "Allow"
      actions   = ["dynamodb:UpdateItem"]
      resources = [aws_dynamodb_table.this[0].arn]
    }
  }

  dynamic "statement" {
    for_each = var.create_conversation_table && var.conversation_table_kms_key_arn != null ? [var.conversation_table_kms_key_arn] : []
    content {
      sid       = "DecryptConversationTable"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${local.region}.${local.dns_suffix}"]
      }
    }
  }

  # Limits: count a question in its windows and the day's tokens (UpdateItem ADD), read the day's
  # total before a question (GetItem). Nothing else, on the limits table only.
  dynamic "statement" {
    for_each = var.create_limits_table ? [1] : []
    content {
      sid       = "CountRequestsAndTokens"
      effect    = "Allow"
      actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
      resources = [aws_dynamodb_table.limits[0].arn]
    }
  }

  dynamic "statement" {
    for_each = var.create_limits_table && var.limits_table_kms_key_arn != null ? [var.limits_table_kms_key_arn] : []
    content {
      sid       = "DecryptLimitsTable"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${local.region}.${local.dns_suffix}"]
      }
    }
  }

  # The Data API reads the credentials secret with the caller's permissions.
  statement {
    sid       = "ReadDatabaseSecret"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.db_secret_arn]
  }

  dynamic "statement" {
    for_each = var.db_secret_kms_key_arn == null ? [] : [var.db_secret_kms_key_arn]
    content {
      sid       = "DecryptDatabaseSecret"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.${local.dns_suffix}"]
      }
    }
  }

  # Converse is authorised by bedrock:InvokeModel, on exactly the IDs the function may call (its first
  # choice and the fallbacks, module.bedrock_access.candidate_ids): on the inference profiles among them ...
  dynamic "statement" {
    for_each = length(module.bedrock_access.profile_arns) > 0 ? [1] : []
    content {
      sid       = "InvokeClaudeInferenceProfiles"
      effect    = "Allow"
      actions   = ["bedrock:InvokeModel"]
      resources = module.bedrock_access.profile_arns
    }
  }

  # ... on the model in this Region, when the base model ID is one of them (on demand) ...
  dynamic "statement" {
    for_each = length(module.bedrock_access.in_region_model_arns) > 0 ? [1] : []
    content {
      sid       = "InvokeClaudeInRegion"
      effect    = "Allow"
      actions   = ["bedrock:InvokeModel"]
      resources = module.bedrock_access.in_region_model_arns
    }
  }

  # ... and on the same model in the profiles' destination Regions, only through those profiles.
  dynamic "statement" {
    for_each = length(module.bedrock_access.destination_model_arns) > 0 ? [1] : []
    content {
      sid       = "InvokeClaudeThroughProfiles"
      effect    = "Allow"
      actions   = ["bedrock:InvokeModel"]
      resources = module.bedrock_access.destination_model_arns

      condition {
        test     = "ArnLike"
        variable = "bedrock:InferenceProfileArn"
        values   = module.bedrock_access.profile_arns
      }
    }
  }
}
