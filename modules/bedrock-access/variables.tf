variable "partition" {
  description = "AWS partition of the ARNs."
  type        = string
  default     = "aws"

  validation {
    condition     = contains(["aws", "aws-us-gov", "aws-cn"], var.partition)
    error_message = "partition must be one of: aws, aws-us-gov, aws-cn."
  }
}

variable "region" {
  description = "Region the function runs in (the inference profiles' source Region)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be a Region code such as ap-northeast-2."
  }
}

variable "account_id" {
  description = "Account that owns the function (inference-profile ARNs carry it)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "model_id" {
  description = "Model ID as given to the function (BEDROCK_MODEL_ID), with or without a profile prefix."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9.-]+\\.[a-z0-9.:-]+$", var.model_id))
    error_message = "model_id must be a Bedrock model ID such as anthropic.claude-haiku-4-5-20251001-v1:0."
  }
}

variable "inference_profile" {
  description = "BEDROCK_INFERENCE_PROFILE: auto, none, or a fixed prefix."
  type        = string
  default     = "auto"

  validation {
    condition     = contains(["auto", "none", "us", "eu", "apac", "jp", "au", "us-gov", "global"], var.inference_profile)
    error_message = "inference_profile must be one of: auto, none, us, eu, apac, jp, au, us-gov, global."
  }
}
