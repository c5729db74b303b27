# Plans of the whole layer against a mocked AWS provider (no credentials, no network; the mocked
# values are in mocks/aws.tfmock.hcl). tests/terraform/test_plans.py copies the layer with a stub
# build/lambda_function.zip and its stamp into a temporary folder, runs `terraform init` (the
# machine's provider mirror, or the registry) and `terraform test` there.

mock_provider "aws" {
  source          = "./tests/mocks"
  override_during = plan
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
# Every precondition, tripped (test_plans.py checks each one's message)
###############################################################################

run "precondition_network_state_needs_a_bucket" {
  command = plan

  variables {
    db_cluster_arn = "arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-given"
    db_secret_arn  = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:petclinic-given-AbCdEf"
    vpc_id         = "vpc-0bbbbbbbbbbbbbbb1"
  }

  expect_failures = [data.terraform_remote_state.network]
}

run "precondition_database_state_needs_a_bucket" {
  command = plan

  variables {
    vpc_id             = "vpc-0bbbbbbbbbbbbbbb1"
    private_subnet_ids = ["subnet-0bbbbbbbbbbbbbbb1"]
    db_cluster_arn     = "arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-given"
  }

  expect_failures = [data.terraform_remote_state.database]
}

run "precondition_package_built_for_another_runtime" {
  command = plan

  variables {
    remote_state_bucket = "petclinic-tfstate-example"
    lambda_runtime      = "python3.12"
  }

  expect_failures = [aws_lambda_function.this]
}

run "precondition_network_state_without_a_vpc" {
  command = plan

  variables {
    remote_state_bucket = "petclinic-tfstate-example"
  }

  override_data {
    target = data.terraform_remote_state.network
    values = {
      outputs = {
        vpc_cidr = "10.0.0.0/16"
      }
    }
  }

  expect_failures = [aws_lambda_function.this]
}

run "precondition_database_state_without_a_cluster" {
  command = plan

  variables {
    remote_state_bucket = "petclinic-tfstate-example"
  }

  override_data {
    target = data.terraform_remote_state.database
    values = {
      outputs = {
        master_user_secret_arn = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!cluster-from-state-AbCdEf"
      }
    }
  }

  expect_failures = [aws_lambda_function.this]
}

run "precondition_secret_name_is_not_an_arn" {
  command = plan

  variables {
    remote_state_bucket = "petclinic-tfstate-example"
  }

  override_data {
    target = data.terraform_remote_state.database
    values = {
      outputs = {
        cluster_arn            = "arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-from-state"
        master_user_secret_arn = "petclinic-db-secret"
      }
    }
  }

  expect_failures = [aws_lambda_function.this]
}
