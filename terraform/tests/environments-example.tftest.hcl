# terraform test for environments/example (the file name says where scripts/infra_check.sh runs
# it, from a scratch copy of terraform/): plan and apply against a mocked AWS provider, which
# evaluates every expression, for_each key, precondition and module wire without credentials.
# Needs Terraform >= 1.7 or OpenTofu >= 1.8 (mock_provider) and the AWS provider on disk.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-central-1" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_ec2_instance_type" {
    defaults = { memory_size = 8192, default_vcpus = 2 }
  }
  mock_data "aws_secretsmanager_random_password" {
    defaults = { random_password = "mock-password" }
  }
  # ARN-shaped values where the configuration derives other ARNs from them.
  mock_resource "aws_msk_cluster" {
    defaults = {
      arn                          = "arn:aws:kafka:eu-central-1:123456789012:cluster/hsi-prod-stream/0000-1111"
      cluster_name                 = "hsi-prod-stream"
      bootstrap_brokers_sasl_scram = "b-1.example:9096,b-2.example:9096,b-3.example:9096"
      bootstrap_brokers_sasl_iam   = "b-1.example:9098,b-2.example:9098,b-3.example:9098"
    }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::mock-bucket" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:eu-central-1:123456789012:mock-queue" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_iam_instance_profile" {
    defaults = { arn = "arn:aws:iam::123456789012:instance-profile/mock" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-central-1:123456789012:log-group:mock" }
  }
  mock_resource "aws_batch_compute_environment" {
    defaults = { arn = "arn:aws:batch:eu-central-1:123456789012:compute-environment/mock" }
  }
  mock_resource "aws_batch_job_queue" {
    defaults = { arn = "arn:aws:batch:eu-central-1:123456789012:job-queue/hsi-prod-worker" }
  }
  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:eu-central-1:123456789012:function:hsi-prod-dispatch" }
  }
  mock_resource "aws_msk_configuration" {
    defaults = { arn = "arn:aws:kafka:eu-central-1:123456789012:configuration/mock/0000" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:AmazonMSK_mock" }
  }
  mock_resource "aws_iot_topic_rule_destination" {
    defaults = { arn = "arn:aws:iot:eu-central-1:123456789012:ruledestination/vpc/mock" }
  }
  mock_resource "aws_iot_role_alias" {
    defaults = { arn = "arn:aws:iot:eu-central-1:123456789012:rolealias/mock" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-central-1:123456789012:mock" }
  }
  mock_resource "aws_athena_workgroup" {
    defaults = { arn = "arn:aws:athena:eu-central-1:123456789012:workgroup/mock" }
  }
  mock_resource "aws_glue_catalog_database" {
    defaults = { arn = "arn:aws:glue:eu-central-1:123456789012:database/mock" }
  }
}

variables {
  region                  = "eu-central-1"
  environment             = "prod"
  vpc_id                  = "vpc-0123456789abcdef0"
  private_subnet_ids      = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2", "subnet-0ccccccccccccccc3"]
  dispatcher_package_path = "bootstrap.zip" # infra_check.sh puts a dummy zip here in the copy
  worker_image            = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/hsi-ingest:0.1.0"
}

run "plan" {
  command = plan

  assert {
    condition     = module.queue.visibility_timeout_seconds == 360
    error_message = "The queue's visibility timeout must be 6x the 60 s dispatcher timeout."
  }

  assert {
    condition     = output.kafka_topics["hsi.silver.v1"].config["retention.ms"] == "604800000" && output.kafka_topics["hsi.silver.v1.dlq"].partitions == 3
    error_message = "Unexpected topic settings."
  }

  assert {
    condition     = output.mqtt_topic_pattern == "hsi/silver/v1/{thing_name}/{cube_id}"
    error_message = "Unexpected MQTT topic pattern."
  }
}

run "apply_mocked" {
  command = apply

  assert {
    condition     = length(output.role_arns) == 5
    error_message = "One role per component."
  }
}
