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
# Where the network and database come from
###############################################################################

# Nothing set: the layer says what to set instead of planning a function without a database.
run "defaults_ask_for_a_network_and_a_database" {
  command = plan

  expect_failures = [
    data.terraform_remote_state.network,
    data.terraform_remote_state.database,
  ]
}

# The README's stand-alone way: no remote state at all, the four plain variables.
run "plain_variables_alone" {
  command = plan

  variables {
    vpc_id             = "vpc-0bbbbbbbbbbbbbbb1"
    private_subnet_ids = ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]
    db_cluster_arn     = "arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-given"
    db_secret_arn      = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:petclinic-given-AbCdEf"
  }

  assert {
    condition     = length(data.terraform_remote_state.network) == 0 && length(data.terraform_remote_state.database) == 0
    error_message = "With all four plain variables set, no remote state is read."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.DB_CLUSTER_ARN == "arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-given"
    error_message = "DB_CLUSTER_ARN is not the given db_cluster_arn."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.DB_SECRET_ARN == "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:petclinic-given-AbCdEf"
    error_message = "DB_SECRET_ARN is not the given db_secret_arn."
  }
  assert {
    condition     = aws_lambda_function.this.vpc_config[0].subnet_ids == toset(["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"])
    error_message = "The function's subnets are not the given private_subnet_ids."
  }
  assert {
    condition     = aws_security_group.this.vpc_id == "vpc-0bbbbbbbbbbbbbbb1"
    error_message = "The security group is not in the given vpc_id."
  }
  assert {
    condition     = aws_lambda_function.this.vpc_config[0].security_group_ids == toset(["sg-0123456789abcdef0"])
    error_message = "The function is not in its own security group only."
  }
  assert {
    condition = one([for s in data.aws_iam_policy_document.this.statement : s if s.sid == "QueryPetclinicThroughDataApi"]).resources == toset(["arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-given"]) && (
    one([for s in data.aws_iam_policy_document.this.statement : s if s.sid == "ReadDatabaseSecret"]).resources == toset(["arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:petclinic-given-AbCdEf"]))
    error_message = "The Data API and secret statements do not name the given cluster and secret."
  }
}

# The neighbours' remote state alone.
run "remote_state_alone" {
  command = plan

  variables {
    remote_state_bucket = "petclinic-tfstate-example"
  }

  assert {
    condition     = length(data.terraform_remote_state.network) == 1 && length(data.terraform_remote_state.database) == 1
    error_message = "Both layers' state should be read."
  }
  assert {
    condition     = data.terraform_remote_state.network[0].config.bucket == "petclinic-tfstate-example" && data.terraform_remote_state.network[0].config.key == "01-network/terraform.tfstate" && data.terraform_remote_state.database[0].config.key == "03-database/terraform.tfstate"
    error_message = "The remote state is not read from remote_state_bucket under the layers' keys."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.DB_CLUSTER_ARN == "arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-from-state"
    error_message = "DB_CLUSTER_ARN is not the database layer's cluster_arn."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.DB_SECRET_ARN == "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!cluster-from-state-AbCdEf"
    error_message = "DB_SECRET_ARN is not the database layer's master_user_secret_arn."
  }
  assert {
    condition     = aws_lambda_function.this.vpc_config[0].subnet_ids == toset(["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"])
    error_message = "The function's subnets are not the network layer's private_app_subnet_ids."
  }
  assert {
    condition     = aws_security_group.this.vpc_id == "vpc-0aaaaaaaaaaaaaaa1"
    error_message = "The security group is not in the network layer's VPC."
  }
}

# The network layer may output the subnets as a list; the secret may sit under another output name.
run "remote_state_with_a_subnet_list_and_another_secret_output" {
  command = plan

  variables {
    remote_state_bucket        = "petclinic-tfstate-example"
    database_secret_arn_output = "db_secret_arn"
  }

  override_data {
    target = data.terraform_remote_state.network
    values = {
      outputs = {
        vpc_id                 = "vpc-0ccccccccccccccc1"
        private_app_subnet_ids = ["subnet-0ccccccccccccccc1", "subnet-0ccccccccccccccc2", "subnet-0ccccccccccccccc3"]
      }
    }
  }
  override_data {
    target = data.terraform_remote_state.database
    values = {
      outputs = {
        cluster_arn   = "arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-from-state"
        db_secret_arn = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:other-output-AbCdEf"
      }
    }
  }

  assert {
    condition     = aws_lambda_function.this.vpc_config[0].subnet_ids == toset(["subnet-0ccccccccccccccc1", "subnet-0ccccccccccccccc2", "subnet-0ccccccccccccccc3"])
    error_message = "A list of subnets in the network state is not used as given."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.DB_SECRET_ARN == "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:other-output-AbCdEf"
    error_message = "DB_SECRET_ARN does not come from the output named by database_secret_arn_output."
  }
}

# A mix: the network from plain variables, the database from its layer's state.
run "network_given_database_from_state" {
  command = plan

  variables {
    remote_state_bucket = "petclinic-tfstate-example"
    vpc_id              = "vpc-0bbbbbbbbbbbbbbb1"
    private_subnet_ids  = ["subnet-0bbbbbbbbbbbbbbb1"]
  }

  assert {
    condition     = length(data.terraform_remote_state.network) == 0 && length(data.terraform_remote_state.database) == 1
    error_message = "Only the database layer's state should be read."
  }
  assert {
    condition     = aws_lambda_function.this.vpc_config[0].subnet_ids == toset(["subnet-0bbbbbbbbbbbbbbb1"]) && aws_security_group.this.vpc_id == "vpc-0bbbbbbbbbbbbbbb1"
    error_message = "The given network is not used."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.DB_CLUSTER_ARN == "arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-from-state" && aws_lambda_function.this.environment[0].variables.DB_SECRET_ARN == "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!cluster-from-state-AbCdEf"
    error_message = "The database layer's ARNs are not used."
  }
}

# The other mix, and a variable that wins over a state output that is also there: the given
# cluster, the secret from state; the given VPC, the subnets from state.
run "given_values_win_over_state_per_value" {
  command = plan

  variables {
    remote_state_bucket = "petclinic-tfstate-example"
    vpc_id              = "vpc-0bbbbbbbbbbbbbbb1"
    db_cluster_arn      = "arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-given"
  }

  assert {
    condition     = length(data.terraform_remote_state.network) == 1 && length(data.terraform_remote_state.database) == 1
    error_message = "Each layer's state is read for the value not given."
  }
  assert {
    condition     = aws_security_group.this.vpc_id == "vpc-0bbbbbbbbbbbbbbb1"
    error_message = "The given vpc_id lost to the network state's."
  }
  assert {
    condition     = aws_lambda_function.this.vpc_config[0].subnet_ids == toset(["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"])
    error_message = "The subnets do not come from the network state."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.DB_CLUSTER_ARN == "arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-given"
    error_message = "The given db_cluster_arn lost to the database state's."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.DB_SECRET_ARN == "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!cluster-from-state-AbCdEf"
    error_message = "The secret does not come from the database state."
  }
}

