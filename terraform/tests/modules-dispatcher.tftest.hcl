# terraform test for modules/dispatcher (run by scripts/infra_check.sh from a scratch copy, with
# a dummy bootstrap.zip): the event source mapping contract and the visibility-timeout guard.

mock_provider "aws" {}

variables {
  name_prefix                      = "hsi-test"
  package_path                     = "bootstrap.zip"
  role_arn                         = "arn:aws:iam::123456789012:role/hsi-test-dispatcher"
  queue_arn                        = "arn:aws:sqs:eu-central-1:123456789012:hsi-test-raw-cubes"
  queue_visibility_timeout_seconds = 360
  lakehouse_bucket_name            = "hsi-test-lakehouse"
  job_queue_name                   = "hsi-test-worker"
  job_definition_name              = "hsi-test-worker"
  kms_key_arn                      = "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  vpc_id                           = "vpc-0123456789abcdef0"
  subnet_ids                       = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]
}

run "batches_of_200_with_partial_failures" {
  command = plan

  assert {
    condition     = aws_lambda_event_source_mapping.raw_cubes.batch_size == 200
    error_message = "Batch size must be 200."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.raw_cubes.function_response_types == toset(["ReportBatchItemFailures"])
    error_message = "Partial batch failure reporting must be on."
  }

  assert {
    condition     = aws_lambda_function.dispatcher.runtime == "provided.al2023" && aws_lambda_function.dispatcher.architectures == tolist(["arm64"])
    error_message = "The dispatcher is a provided.al2023 arm64 function."
  }
}

# 300 s < 6 x 60 s: a batch still being processed would become visible again.
run "short_visibility_timeout_is_refused" {
  command = plan

  variables {
    queue_visibility_timeout_seconds = 300
  }

  expect_failures = [aws_lambda_event_source_mapping.raw_cubes]
}

run "batch_size_above_10_needs_a_batching_window" {
  command = plan

  variables {
    batching_window_seconds = 0
  }

  expect_failures = [var.batching_window_seconds]
}
