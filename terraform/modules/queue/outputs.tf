output "queue_arn" {
  description = "ARN of the raw-cube event queue (the dispatcher's event source)."
  value       = aws_sqs_queue.main.arn
}

output "queue_url" {
  description = "URL of the raw-cube event queue."
  value       = aws_sqs_queue.main.id
}

output "queue_name" {
  description = "Name of the raw-cube event queue (CloudWatch dimension QueueName)."
  value       = aws_sqs_queue.main.name
}

output "notification_target_arn" {
  description = "The queue ARN, available only once the queue policy exists: give this one to the S3 notification, which S3 validates by test-sending to the queue."
  value       = aws_sqs_queue.main.arn
  depends_on  = [aws_sqs_queue_policy.main]
}

output "visibility_timeout_seconds" {
  description = "Visibility timeout of the main queue (the dispatcher checks it against its timeout)."
  value       = aws_sqs_queue.main.visibility_timeout_seconds
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.id
}

output "dlq_name" {
  description = "Name of the dead-letter queue (CloudWatch dimension QueueName)."
  value       = aws_sqs_queue.dlq.name
}
