# terraform test for modules/batch (run by scripts/infra_check.sh from a scratch copy): the
# plan-time guards that keep a bad configuration from reaching AWS.

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-central-1" }
  }
  # m*.large: 2 vCPU, 8 GiB.
  mock_data "aws_ec2_instance_type" {
    defaults = { memory_size = 8192, default_vcpus = 2 }
  }
}

variables {
  name_prefix          = "hsi-test"
  vpc_id               = "vpc-0123456789abcdef0"
  subnet_ids           = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]
  worker_image         = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/hsi-ingest:0.1.0"
  instance_profile_arn = "arn:aws:iam::123456789012:instance-profile/hsi-test-batch-instance"
  job_role_arn         = "arn:aws:iam::123456789012:role/hsi-test-worker"
  execution_role_arn   = "arn:aws:iam::123456789012:role/hsi-test-worker-execution"
  warehouse_uri        = "s3://hsi-test-lakehouse/warehouse"
  kms_key_arn          = "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000000"
}

run "default_job_fits_every_instance_type" {
  command = plan

  assert {
    condition     = aws_batch_job_definition.worker.retry_strategy[0].evaluate_on_exit[0].on_status_reason == "Host EC2*"
    error_message = "The first retry rule must retry host terminations (Spot reclaims)."
  }

  assert {
    condition     = jsondecode(aws_batch_job_definition.worker.container_properties).command == ["hsi-ingest", "work", "--manifest", "Ref::manifest"]
    error_message = "Unexpected worker command."
  }
}

# 6 GiB does not fit into 90 % of 4 GiB: the compute environment's precondition refuses it.
run "job_larger_than_the_instances_is_refused" {
  command = plan

  override_data {
    target = data.aws_ec2_instance_type.worker
    values = { memory_size = 4096, default_vcpus = 2 }
  }

  expect_failures = [aws_batch_compute_environment.spot]
}

run "job_with_more_vcpus_than_the_instances_is_refused" {
  command = plan

  variables {
    job_vcpus = 4
  }

  expect_failures = [aws_batch_compute_environment.spot]
}

run "mutable_image_tag_is_refused" {
  command = plan

  variables {
    worker_image = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/hsi-ingest:latest"
  }

  expect_failures = [var.worker_image]
}

run "a_single_attempt_is_refused" {
  command = plan

  variables {
    retry_attempts = 1
  }

  expect_failures = [var.retry_attempts]
}
