# Observability: CloudWatch alarms on the four signals that mean data is stuck or lost, plus
# dispatcher errors, all notifying one KMS-encrypted SNS topic.
#
# | alarm                 | metric                                              | means                                   |
# |-----------------------|-----------------------------------------------------|-----------------------------------------|
# | dlq-not-empty         | AWS/SQS ApproximateNumberOfMessagesVisible (DLQ)     | an event failed max_receive_count times |
# | oldest-event-age      | AWS/SQS ApproximateAgeOfOldestMessage (main queue)   | dispatching stalled                     |
# | batch-failed-jobs     | HSI/Batch FailedJobs (from Batch state-change events) | a manifest failed for good (app error, or retries exhausted) |
# | stream-lag            | AWS/Kafka EstimatedMaxTimeLag (group, topic)         | Kafka -> Silver is falling behind       |
# | dispatcher-errors     | AWS/Lambda Errors                                   | invocations failing as a whole          |
#
# AWS Batch publishes no job-failure metric, so FAILED job state changes of the worker queue
# are routed by EventBridge to a log group and counted by a metric filter. A job is FAILED only
# after its last attempt, so a Spot reclaim that was retried does not alarm.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# ---------------------------------------------------------------------------------------------
# Queue
# ---------------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  alarm_name        = "${var.name_prefix}-dlq-not-empty"
  alarm_description = "Raw-cube events in the DLQ: they failed dispatching repeatedly. Inspect them, fix the cause, then redrive the DLQ to the main queue (docs/operations.md)."
  namespace         = "AWS/SQS"
  metric_name       = "ApproximateNumberOfMessagesVisible"
  dimensions = {
    QueueName = var.dlq_name
  }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_event_age" {
  alarm_name        = "${var.name_prefix}-oldest-event-age"
  alarm_description = "The oldest raw-cube event waits longer than ${var.oldest_message_age_threshold_seconds}s: the dispatcher is down, disabled, throttled or failing. Events expire after the queue's retention."
  namespace         = "AWS/SQS"
  metric_name       = "ApproximateAgeOfOldestMessage"
  dimensions = {
    QueueName = var.queue_name
  }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.oldest_message_age_threshold_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dispatcher_errors" {
  alarm_name          = "${var.name_prefix}-dispatcher-errors"
  alarm_description   = "Dispatcher invocations failed as a whole (crash, timeout); their messages are retried and end in the DLQ."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = var.dispatcher_function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# ---------------------------------------------------------------------------------------------
# Batch failed jobs: EventBridge -> log group -> metric filter -> alarm
# ---------------------------------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "batch_failed" {
  name        = "${var.name_prefix}-batch-job-failed"
  description = "hsi worker jobs that ended FAILED (after their last attempt)"
  event_pattern = jsonencode({
    source        = ["aws.batch"]
    "detail-type" = ["Batch Job State Change"]
    detail = {
      status   = ["FAILED"]
      jobQueue = [var.job_queue_arn]
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_log_group" "batch_failed" {
  # EventBridge requires log group targets under /aws/events/.
  name              = "/aws/events/${var.name_prefix}-batch-job-failed"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "events_to_logs" {
  statement {
    sid       = "EventBridgeWritesFailedJobEvents"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.batch_failed.arn}:*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "delivery.logs.amazonaws.com"]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "events_to_logs" {
  policy_name     = "${var.name_prefix}-events-to-batch-failed-logs"
  policy_document = data.aws_iam_policy_document.events_to_logs.json
}

resource "aws_cloudwatch_event_target" "batch_failed" {
  rule      = aws_cloudwatch_event_rule.batch_failed.name
  target_id = "failed-job-log"
  arn       = aws_cloudwatch_log_group.batch_failed.arn

  depends_on = [aws_cloudwatch_log_resource_policy.events_to_logs]
}

resource "aws_cloudwatch_log_metric_filter" "batch_failed" {
  name           = "${var.name_prefix}-batch-failed-jobs"
  log_group_name = aws_cloudwatch_log_group.batch_failed.name
  pattern        = "{ $.detail.status = \"FAILED\" }"

  metric_transformation {
    name          = "FailedJobs"
    namespace     = "HSI/Batch"
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "batch_failed_jobs" {
  alarm_name          = "${var.name_prefix}-batch-failed-jobs"
  alarm_description   = "Worker jobs ended FAILED: an application error (not retried) or Spot reclaims beyond the retry attempts. The job's manifest lists the cubes; see the worker log group and the failed-job events in ${aws_cloudwatch_log_group.batch_failed.name}."
  namespace           = "HSI/Batch"
  metric_name         = "FailedJobs"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags

  depends_on = [aws_cloudwatch_log_metric_filter.batch_failed]
}

# ---------------------------------------------------------------------------------------------
# Stream lag
# ---------------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "stream_lag" {
  alarm_name        = "${var.name_prefix}-stream-lag"
  alarm_description = "The stream consumer (${var.stream_consumer_group}) is more than ${var.stream_lag_threshold_seconds}s behind ${var.stream_topic}. Records are kept for the topic's retention; scale the consumer or look for a failing commit."
  namespace         = "AWS/Kafka"
  metric_name       = "EstimatedMaxTimeLag"
  dimensions = {
    "Cluster Name"   = var.msk_cluster_name
    "Consumer Group" = var.stream_consumer_group
    "Topic"          = var.stream_topic
  }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.stream_lag_threshold_seconds
  # MSK emits lag only while the group is STABLE or EMPTY: no data means the consumer keeps
  # rebalancing (crash loop) or its group is gone, which needs attention as much as lag does.
  treat_missing_data = "breaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = var.tags
}
