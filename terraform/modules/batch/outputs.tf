output "job_queue_name" {
  description = "Name of the worker job queue."
  value       = aws_batch_job_queue.worker.name
}

output "job_queue_arn" {
  description = "ARN of the worker job queue."
  value       = aws_batch_job_queue.worker.arn
}

output "job_definition_name" {
  description = "Name of the worker job definition (submit by name to use the latest ACTIVE revision)."
  value       = aws_batch_job_definition.worker.name
}

output "job_definition_arn" {
  description = "ARN of the current revision of the worker job definition."
  value       = aws_batch_job_definition.worker.arn
}

output "compute_environment_arn" {
  description = "ARN of the Spot compute environment."
  value       = aws_batch_compute_environment.spot.arn
}

output "log_group_name" {
  description = "Log group of the worker containers."
  value       = aws_cloudwatch_log_group.worker.name
}

output "log_group_arn" {
  description = "ARN of the worker log group."
  value       = aws_cloudwatch_log_group.worker.arn
}

output "security_group_id" {
  description = "Security group of the worker instances."
  value       = aws_security_group.worker.id
}
