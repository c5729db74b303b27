# The only terraform {} block. The S3 backend is completed by backend.config:
#   terraform init -backend-config=backend.config
terraform {
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 7.0.0"
    }
  }

  backend "s3" {}
}
