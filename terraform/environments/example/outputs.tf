output "raw_bucket" {
  description = "Raw-cube bucket: the edge backhauls to s3://BUCKET/raw_cubes/{region}/{farm_id}/{yyyy}/{mm}/{dd}/{cube_id}.h5."
  value       = module.storage.raw_bucket_name
}

output "lakehouse_bucket" {
  description = "Lakehouse bucket (warehouse/, manifests/, ingest_errors/)."
  value       = module.storage.lakehouse_bucket_name
}

output "warehouse_uri" {
  description = "Iceberg warehouse for hsi --warehouse and the workers."
  value       = module.storage.warehouse_uri
}

output "queue_url" {
  description = "Raw-cube event queue."
  value       = module.queue.queue_url
}

output "dlq_url" {
  description = "Raw-cube dead-letter queue."
  value       = module.queue.dlq_url
}

output "dispatcher_function_name" {
  description = "Dispatcher Lambda."
  value       = module.dispatcher.function_name
}

output "batch_job_queue" {
  description = "Worker job queue."
  value       = module.batch.job_queue_name
}

output "batch_job_definition" {
  description = "Worker job definition."
  value       = module.batch.job_definition_name
}

output "kafka_bootstrap_brokers_iam" {
  description = "MSK bootstrap brokers for IAM-authenticated clients."
  value       = module.stream.bootstrap_brokers_sasl_iam
}

output "kafka_topics" {
  description = "Topic settings to create on the cluster (see terraform/README.md)."
  value       = module.stream.topics
}

output "mqtt_topic_pattern" {
  description = "MQTT topic for equipment that publishes through AWS IoT Core."
  value       = module.stream.mqtt_topic_pattern
}

output "iot_policy_name" {
  description = "IoT policy to attach to each device certificate."
  value       = module.stream.iot_policy_name
}

output "iot_role_alias" {
  description = "IoT role alias for the edge publisher role."
  value       = module.stream.iot_role_alias
}

output "glue_databases" {
  description = "Glue databases of the Iceberg namespaces."
  value       = module.catalog.database_names
}

output "athena_workgroup" {
  description = "Athena workgroup for analysts."
  value       = module.catalog.athena_workgroup_name
}

output "role_arns" {
  description = "Per-component roles."
  value = {
    edge_publisher  = module.iam.edge_publisher_role_arn
    dispatcher      = module.iam.dispatcher_role_arn
    worker          = module.iam.worker_role_arn
    stream_consumer = module.iam.stream_consumer_role_arn
    analyst         = module.iam.analyst_role_arn
  }
}

output "alarm_topic_arn" {
  description = "SNS topic of every alarm."
  value       = module.observability.alarm_topic_arn
}
