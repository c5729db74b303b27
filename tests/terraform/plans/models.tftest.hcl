# The model ID the function calls first, checked at plan time against the Region's inference profiles
# (data.aws_bedrock_inference_profiles, mocked here per run), and the fallback's candidates the role may
# invoke. test_plans.py checks the message of each run that trips the check.

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

variables {
  vpc_id             = "vpc-0123456789abcdef0"
  private_subnet_ids = ["subnet-0123456789abcdef0"]
  db_cluster_arn     = "arn:aws:rds:ap-northeast-1:123456789012:cluster:petclinic"
  db_secret_arn      = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:petclinic-db-AbCdEf"
}

###############################################################################
# The first choice is listed: the plan passes
###############################################################################

# Tokyo, Sonnet 4.6: jp. first (the table), then global., then the base ID; Tokyo lists the jp. profile.
run "inference_profile_listed" {
  command = plan

  variables {
    aws_region       = "ap-northeast-1"
    bedrock_model_id = "anthropic.claude-sonnet-4-6"
  }

  override_data {
    target = data.aws_bedrock_inference_profiles.this
    values = {
      inference_profile_summaries = [
        { inference_profile_id = "apac.anthropic.claude-sonnet-4-20250514-v1:0" },
        { inference_profile_id = "global.anthropic.claude-sonnet-4-6" },
        { inference_profile_id = "jp.anthropic.claude-sonnet-4-6" },
      ]
    }
  }

  assert {
    condition     = length(data.aws_bedrock_inference_profiles.this) == 1
    error_message = "The Region's inference profiles were not read for a profile ID."
  }
  assert {
    condition     = output.bedrock_model_id == "jp.anthropic.claude-sonnet-4-6" && output.bedrock_model_id_candidates == tolist(["jp.anthropic.claude-sonnet-4-6", "global.anthropic.claude-sonnet-4-6", "anthropic.claude-sonnet-4-6"])
    error_message = "From Tokyo, Sonnet 4.6 is not jp., global., the base ID."
  }
  # The role may invoke exactly those three: the two profiles, the model through them, the model in Tokyo.
  assert {
    condition = jsonencode({ for s in data.aws_iam_policy_document.this.statement : s.sid => s.resources if startswith(s.sid, "InvokeClaude") }) == jsonencode({
      InvokeClaudeInferenceProfiles = ["arn:aws:bedrock:ap-northeast-1:123456789012:inference-profile/global.anthropic.claude-sonnet-4-6", "arn:aws:bedrock:ap-northeast-1:123456789012:inference-profile/jp.anthropic.claude-sonnet-4-6"]
      InvokeClaudeInRegion          = ["arn:aws:bedrock:ap-northeast-1::foundation-model/anthropic.claude-sonnet-4-6"]
      InvokeClaudeThroughProfiles   = ["arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-6", "arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-6"]
    })
    error_message = "The Bedrock grants are not exactly the candidates'."
  }
}

# A fixed override that is not the Region's own choice: the base ID is cut (three candidates at most),
# so the role gets no on-demand grant in the Region.
run "inference_profile_override_listed" {
  command = plan

  variables {
    aws_region                = "ap-northeast-1"
    bedrock_model_id          = "anthropic.claude-opus-4-6-v1"
    bedrock_inference_profile = "apac"
  }

  override_data {
    target = data.aws_bedrock_inference_profiles.this
    values = {
      inference_profile_summaries = [
        { inference_profile_id = "apac.anthropic.claude-opus-4-6-v1" },
        { inference_profile_id = "global.anthropic.claude-opus-4-6-v1" },
        { inference_profile_id = "jp.anthropic.claude-opus-4-6-v1" },
      ]
    }
  }

  assert {
    condition     = output.bedrock_model_id_candidates == tolist(["apac.anthropic.claude-opus-4-6-v1", "jp.anthropic.claude-opus-4-6-v1", "global.anthropic.claude-opus-4-6-v1"])
    error_message = "The override does not come first, then the Region's choice and global."
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.this.statement : s if s.sid == "InvokeClaudeInRegion"]) == 0
    error_message = "The model in the Region is granted though the base ID is not a candidate."
  }
}

###############################################################################
# The check skipped: a base model ID first, or the check turned off
###############################################################################

# GovCloud has no global.; Haiku 4.5 has no us-gov. profile: the function calls the base ID, which is
# no inference profile, so nothing is listed (the listing below would fail the check).
run "inference_profile_check_skips_a_base_model_id" {
  command = plan

  variables {
    aws_region     = "us-gov-west-1"
    db_cluster_arn = "arn:aws-us-gov:rds:us-gov-west-1:123456789012:cluster:petclinic"
    db_secret_arn  = "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:petclinic-db-AbCdEf"
  }

  override_data {
    target = data.aws_bedrock_inference_profiles.this
    values = {
      inference_profile_summaries = []
    }
  }

  assert {
    condition     = output.bedrock_model_id == "anthropic.claude-haiku-4-5-20251001-v1:0" && length(data.aws_bedrock_inference_profiles.this) == 0
    error_message = "A base model ID first should skip the listing."
  }
  assert {
    condition     = output.bedrock_model_id_candidates == tolist(["anthropic.claude-haiku-4-5-20251001-v1:0"]) && length(output.bedrock_inference_profile_arns) == 0
    error_message = "In GovCloud without a us-gov. profile the base ID is the only candidate."
  }
}

run "inference_profile_check_off" {
  command = plan

  variables {
    aws_region                      = "ap-northeast-2"
    bedrock_model_id                = "anthropic.claude-future-v1:0"
    bedrock_check_inference_profile = false
  }

  override_data {
    target = data.aws_bedrock_inference_profiles.this
    values = {
      inference_profile_summaries = []
    }
  }

  assert {
    condition     = length(data.aws_bedrock_inference_profiles.this) == 0 && output.bedrock_model_id == "apac.anthropic.claude-future-v1:0"
    error_message = "With the check off the Region's profiles should not be listed."
  }
}

###############################################################################
# The first choice is not listed: the plan fails, naming what the Region lists
###############################################################################

# Issue 23's case: a model no table knows, from Seoul, guessed apac.; Seoul lists only its global. profile.
run "precondition_inference_profile_not_listed" {
  command = plan

  variables {
    aws_region       = "ap-northeast-2"
    bedrock_model_id = "anthropic.claude-future-v1:0"
  }

  override_data {
    target = data.aws_bedrock_inference_profiles.this
    values = {
      inference_profile_summaries = [
        { inference_profile_id = "apac.anthropic.claude-sonnet-4-20250514-v1:0" },
        { inference_profile_id = "global.anthropic.claude-future-v1:0" },
        { inference_profile_id = "global.anthropic.claude-haiku-4-5-20251001-v1:0" },
      ]
    }
  }

  expect_failures = [aws_lambda_function.this]
}

# No profile of the model at all: the message names every profile the Region lists.
run "precondition_inference_profile_model_not_listed" {
  command = plan

  variables {
    aws_region                = "ap-northeast-2"
    bedrock_model_id          = "anthropic.claude-sonnet-4-6"
    bedrock_inference_profile = "apac"
  }

  override_data {
    target = data.aws_bedrock_inference_profiles.this
    values = {
      inference_profile_summaries = [
        { inference_profile_id = "global.anthropic.claude-haiku-4-5-20251001-v1:0" },
        { inference_profile_id = "apac.anthropic.claude-sonnet-4-20250514-v1:0" },
      ]
    }
  }

  expect_failures = [aws_lambda_function.this]
}
