# Dispatcher: the Rust Lambda hsi-dispatch-lambda (ingest crate) behind an SQS event source.
#
# Lambda delivers up to 200 S3 event messages per invocation (or fewer after the batching
# window). The function de-duplicates them (bucket + key + sequencer), writes one deterministic
# manifest manifests/{yyyy}/{mm}/{dd}/{manifest_id}.json, submits one Batch job for it and only
# then returns. With ReportBatchItemFailures it returns the ids of the messages it could not
# handle; only those become visible again (and move to the DLQ after max_receive_count), the
# rest are deleted by Lambda.

locals {
  function_name = "${var.name_prefix}-dispatch"
}

resource "aws_cloudwatch_log_group" "dispatcher" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_security_group" "dispatcher" {
  name        = "${local.function_name}-lambda"
  description = "hsi dispatcher Lambda: HTTPS egress to AWS APIs only, no ingress"
  vpc_id      = var.vpc_id
  tags        = var.tags

  egress {
    description = "HTTPS to AWS APIs (SQS, S3, Batch, KMS, Logs, X-Ray) via NAT or VPC endpoints"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_lambda_function" "dispatcher" {
  #checkov:skip=CKV_AWS_116:An SQS-triggered function is invoked synchronously by the event source mapping; failed messages go to the queue's own DLQ (redrive policy), a function DLQ would never receive anything.
  #checkov:skip=CKV_AWS_272:The zip is built by CI from this repository (cargo lambda); AWS Signer code signing is an organisation-level choice, add a code_signing_config_arn where it is used.
  function_name = local.function_name
  description   = "hsi: S3 raw-cube events -> manifests -> AWS Batch jobs"
  role          = var.role_arn

  runtime       = "provided.al2023"
  architectures = ["arm64"]
  handler       = "bootstrap"

  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)

  memory_size                    = var.memory_mb
  timeout                        = var.timeout_seconds
  reserved_concurrent_executions = var.max_concurrency
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = merge({
      HSI_MANIFEST_BUCKET      = var.lakehouse_bucket_name
      HSI_RAW_PREFIX           = "raw_cubes/"
      HSI_MAX_REFS             = "200"
      HSI_BATCH_JOB_QUEUE      = var.job_queue_name
      HSI_BATCH_JOB_DEFINITION = var.job_definition_name
      RUST_LOG                 = var.log_level
    }, var.extra_environment)
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = [aws_security_group.dispatcher.id]
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.dispatcher.name
  }

  tags = var.tags
}

resource "aws_lambda_event_source_mapping" "raw_cubes" {
  event_source_arn = var.queue_arn
  function_name    = aws_lambda_function.dispatcher.arn
  enabled          = true

  # One invocation = one manifest of up to 200 cube references (DESIGN §7: 50-200).
  batch_size                         = 200
  maximum_batching_window_in_seconds = var.batching_window_seconds

  # Partial batch failure: the function returns {"batchItemFailures": [{"itemIdentifier": ...}]}
  # and only those messages are retried.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.max_concurrency
  }

  lifecycle {
    precondition {
      condition     = var.queue_visibility_timeout_seconds >= 6 * var.timeout_seconds
      error_message = "The queue's visibility timeout must be at least 6x the dispatcher timeout, or messages of a batch still being processed (or throttled) become visible again and are dispatched twice."
    }
  }
}
