output "function_name" {
  description = "Name of the dispatcher Lambda (CloudWatch dimension FunctionName)."
  value       = aws_lambda_function.dispatcher.function_name
}

output "function_arn" {
  description = "ARN of the dispatcher Lambda."
  value       = aws_lambda_function.dispatcher.arn
}

output "event_source_mapping_uuid" {
  description = "UUID of the SQS event source mapping (disable it to pause dispatching without losing events)."
  value       = aws_lambda_event_source_mapping.raw_cubes.uuid
}

output "log_group_name" {
  description = "Log group of the dispatcher."
  value       = aws_cloudwatch_log_group.dispatcher.name
}

output "security_group_id" {
  description = "Security group of the dispatcher's network interfaces."
  value       = aws_security_group.dispatcher.id
}

output "log_group_arn" {
  description = "ARN of the dispatcher's log group."
  value       = aws_cloudwatch_log_group.dispatcher.arn
}
