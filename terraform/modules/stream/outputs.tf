output "cluster_arn" {
  description = "ARN of the MSK cluster."
  value       = aws_msk_cluster.this.arn
}

output "cluster_name" {
  description = "Name of the MSK cluster (CloudWatch dimension \"Cluster Name\")."
  value       = aws_msk_cluster.this.cluster_name
}

output "bootstrap_brokers_sasl_iam" {
  description = "Bootstrap brokers for IAM-authenticated clients (port 9098): edge producers, the stream consumer, admin tools."
  value       = aws_msk_cluster.this.bootstrap_brokers_sasl_iam
}

output "topic_arns" {
  description = "IAM resource ARNs of the Silver topic and its dead-letter topic (for kafka-cluster:* permissions)."
  value = {
    silver = "${replace(aws_msk_cluster.this.arn, ":cluster/", ":topic/")}/${var.topic}"
    dlq    = "${replace(aws_msk_cluster.this.arn, ":cluster/", ":topic/")}/${var.dlq_topic}"
  }
}

output "group_arn_prefix" {
  description = "IAM resource ARN prefix of this cluster's consumer groups; append the group id."
  value       = "${replace(aws_msk_cluster.this.arn, ":cluster/", ":group/")}/"
}

output "topics" {
  description = "Settings of the topics to create (auto-creation is off): partitions, replication factor and topic configs. See terraform/README.md for the kafka-topics.sh commands."
  value       = local.topics
}

output "iot_rule_name" {
  description = "Name of the IoT rule bridging MQTT to MSK."
  value       = aws_iot_topic_rule.edge_to_msk.name
}

output "iot_policy_name" {
  description = "IoT policy to attach to each edge device certificate."
  value       = aws_iot_policy.edge.name
}

output "iot_role_alias" {
  description = "IoT role alias edge devices exchange their certificate for temporary credentials of the edge publisher role with (https://CREDENTIALS_ENDPOINT/role-aliases/ALIAS/credentials)."
  value       = aws_iot_role_alias.edge.alias
}

output "mqtt_topic_pattern" {
  description = "MQTT topic edge equipment publishes Parquet chunks to."
  value       = "${var.mqtt_topic_prefix}/{thing_name}/{cube_id}"
}

output "scram_secret_arn" {
  description = "ARN of the IoT bridge's SCRAM secret (the Kafka user that needs ACLs, see README)."
  value       = aws_secretsmanager_secret.iot_bridge.arn
}

output "scram_username" {
  description = "Kafka user name of the IoT bridge (principal User:NAME in ACLs)."
  value       = local.scram_username
}

output "broker_security_group_id" {
  description = "Security group of the brokers."
  value       = aws_security_group.brokers.id
}
