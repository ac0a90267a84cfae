output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies (subscribe pagers or chat integrations here)."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms, by signal."
  value = {
    dlq_not_empty     = aws_cloudwatch_metric_alarm.dlq_not_empty.alarm_name
    oldest_event_age  = aws_cloudwatch_metric_alarm.oldest_event_age.alarm_name
    dispatcher_errors = aws_cloudwatch_metric_alarm.dispatcher_errors.alarm_name
    batch_failed_jobs = aws_cloudwatch_metric_alarm.batch_failed_jobs.alarm_name
    stream_lag        = aws_cloudwatch_metric_alarm.stream_lag.alarm_name
  }
}

output "failed_job_log_group_name" {
  description = "Log group holding the Batch state-change events of failed worker jobs."
  value       = aws_cloudwatch_log_group.batch_failed.name
}
