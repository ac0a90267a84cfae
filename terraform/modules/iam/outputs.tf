# Role ARNs are exported only once their permissions are attached: Lambda's event source
# mapping, IoT's VPC destination and Batch validate the role's permissions when they are
# created.

output "edge_publisher_role_arn" {
  description = "Role edge devices assume through the IoT role alias."
  value       = aws_iam_role.edge_publisher.arn
  depends_on  = [aws_iam_role_policy.edge_publisher]
}

output "dispatcher_role_arn" {
  description = "Execution role of the dispatcher Lambda."
  value       = aws_iam_role.dispatcher.arn
  depends_on  = [aws_iam_role_policy.dispatcher, aws_iam_role_policy_attachment.dispatcher_vpc]
}

output "worker_role_arn" {
  description = "Job role of the Batch worker."
  value       = aws_iam_role.worker.arn
  depends_on  = [aws_iam_role_policy.worker]
}

output "worker_execution_role_arn" {
  description = "Execution role of the Batch worker (image pull, logs)."
  value       = aws_iam_role.worker_execution.arn
  depends_on  = [aws_iam_role_policy.worker_execution]
}

output "batch_instance_profile_arn" {
  description = "Instance profile of the Batch container instances."
  value       = aws_iam_instance_profile.batch_instance.arn
  depends_on  = [aws_iam_role_policy_attachment.batch_instance_ecs]
}

output "stream_consumer_role_arn" {
  description = "Task role of the stream consumer (hsi-ingest stream)."
  value       = aws_iam_role.stream_consumer.arn
  depends_on  = [aws_iam_role_policy.stream_consumer]
}

output "analyst_role_arn" {
  description = "Role analysts assume for Athena/Trino SQL over the lakehouse."
  value       = aws_iam_role.analyst.arn
  depends_on  = [aws_iam_role_policy.analyst]
}

output "iot_rule_role_arn" {
  description = "Role the IoT rule (Kafka action, VPC destination, error action) assumes."
  value       = aws_iam_role.iot_rule.arn
  depends_on  = [aws_iam_role_policy.iot_rule]
}
