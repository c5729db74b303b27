# Example values: nothing secret belongs here. The database and network come from the
# 01-network and 03-database layers' remote state (or set vpc_id, private_subnet_ids,
# db_cluster_arn and db_secret_arn to apply this layer on its own).
name_prefix = "petclinic"
environment = "dev"
aws_region  = "ap-northeast-2"

remote_state_bucket = "petclinic-tfstate-seoul-dev"

bedrock_model_id          = "anthropic.claude-haiku-4-5-20251001-v1:0"
bedrock_inference_profile = "auto"

db_name = "petclinic"

tags = {
  Project     = "petclinic"
  Environment = "dev"
  ManagedBy   = "terraform"
}
