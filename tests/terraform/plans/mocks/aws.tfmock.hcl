# The AWS provider, mocked for tests/terraform/plans/*.tftest.hcl: the values a plan would otherwise get
# at random (the account, the ARNs the policy names), fixed.
mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
  }
}
mock_data "aws_iam_policy_document" {
  defaults = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  }
}
# The Region's inference profiles (data.tf reads them to check the ID the function calls first): the
# default model's, as Seoul and us-east-1 list them, so every plan that keeps the default passes the
# check. Plans of other models and Regions (models.tftest.hcl) override the listing.
mock_data "aws_bedrock_inference_profiles" {
  defaults = {
    inference_profile_summaries = [
      { inference_profile_id = "global.anthropic.claude-haiku-4-5-20251001-v1:0" },
      { inference_profile_id = "us.anthropic.claude-haiku-4-5-20251001-v1:0" },
    ]
  }
}
mock_data "aws_subnet" {
  defaults = {
    availability_zone = "ap-northeast-2a"
  }
}
mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:ap-northeast-2:123456789012:log-group:/aws/lambda/petclinic-dev-genai"
  }
}
mock_resource "aws_security_group" {
  defaults = {
    id = "sg-0123456789abcdef0"
  }
}
mock_resource "aws_sns_topic" {
  defaults = {
    arn = "arn:aws:sns:ap-northeast-2:123456789012:petclinic-dev-genai-alarms"
  }
}
mock_resource "aws_lambda_alias" {
  defaults = {
    arn        = "arn:aws:lambda:ap-northeast-2:123456789012:function:petclinic-dev-genai:live"
    invoke_arn = "arn:aws:apigateway:ap-northeast-2:lambda:path/2015-03-31/functions/arn:aws:lambda:ap-northeast-2:123456789012:function:petclinic-dev-genai:live/invocations"
  }
}

override_resource {
  target = aws_dynamodb_table.this
  values = {
    arn = "arn:aws:dynamodb:ap-northeast-2:123456789012:table/petclinic-dev-genai-conversations"
  }
}

override_resource {
  target = aws_dynamodb_table.limits
  values = {
    arn = "arn:aws:dynamodb:ap-northeast-2:123456789012:table/petclinic-dev-genai-limits"
  }
}

# The neighbours' state as the 01-network and 03-database layers write it (subnets by AZ).
