# Example environment: every module wired together in one account and region.
#
#   edge --(S3 multipart)--> raw bucket raw_cubes/ --ObjectCreated--> SQS (+DLQ) --> dispatcher
#   Lambda --manifest--> lakehouse manifests/ + Batch job (Spot) --> warehouse/ (Iceberg, Glue)
#   edge --(Kafka IAM | MQTT via IoT rule)--> MSK hsi.silver.v1 --> stream consumer --> Silver
#   analysts --> Athena workgroup (engine v3) --> Glue databases --> warehouse/
#
# Copy terraform.tfvars.example to terraform.tfvars, fill it in, then
#   tofu init -backend-config=backend.hcl && tofu plan

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name_prefix = "${var.project}-${var.environment}"
  # Bucket names are global: account and region make them unique and predictable.
  bucket_suffix = "${data.aws_caller_identity.current.account_id}-${var.region}"

  raw_bucket_name           = "${local.name_prefix}-raw-${local.bucket_suffix}"
  lakehouse_bucket_name     = "${local.name_prefix}-lakehouse-${local.bucket_suffix}"
  query_results_bucket_name = "${local.name_prefix}-athena-results-${local.bucket_suffix}"
  access_logs_bucket_name   = "${local.name_prefix}-s3-access-logs-${local.bucket_suffix}"

  # Lambda's guidance for SQS event sources: visibility timeout >= 6x the function timeout.
  queue_visibility_timeout_seconds = 6 * var.dispatcher_timeout_seconds

  kafka_topic     = "hsi.silver.v1"
  kafka_dlq_topic = "hsi.silver.v1.dlq"
  consumer_group  = "hsi-stream-silver"
}

module "queue" {
  source = "../../modules/queue"

  name_prefix = local.name_prefix
  # Built from the name, not read from the bucket: the bucket's notification needs the queue
  # policy first, so the queue cannot wait for the bucket.
  raw_bucket_arn             = "arn:${data.aws_partition.current.partition}:s3:::${local.raw_bucket_name}"
  max_receive_count          = var.max_receive_count
  visibility_timeout_seconds = local.queue_visibility_timeout_seconds
  redrive_principal_arns     = var.redrive_principal_arns
}

module "storage" {
  source = "../../modules/storage"

  name_prefix                = local.name_prefix
  raw_bucket_name            = local.raw_bucket_name
  lakehouse_bucket_name      = local.lakehouse_bucket_name
  query_results_bucket_name  = local.query_results_bucket_name
  access_logs_bucket_name    = local.access_logs_bucket_name
  raw_notification_queue_arn = module.queue.notification_target_arn
  force_destroy              = var.force_destroy_buckets
}

module "catalog" {
  source = "../../modules/catalog"

  name_prefix               = local.name_prefix
  lakehouse_bucket_name     = module.storage.lakehouse_bucket_name
  query_results_bucket_name = module.storage.query_results_bucket_name
  kms_key_arn               = module.storage.kms_key_arn
}

module "stream" {
  source = "../../modules/stream"

  name_prefix               = local.name_prefix
  vpc_id                    = var.vpc_id
  subnet_ids                = var.private_subnet_ids
  broker_instance_type      = var.msk_broker_instance_type
  broker_volume_gib         = var.msk_broker_volume_gib
  kms_key_arn               = module.storage.kms_key_arn
  client_security_group_ids = var.stream_consumer_security_group_ids
  client_cidr_blocks        = var.kafka_client_cidr_blocks
  topic                     = local.kafka_topic
  dlq_topic                 = local.kafka_dlq_topic
  iot_rule_role_arn         = module.iam.iot_rule_role_arn
  edge_publisher_role_arn   = module.iam.edge_publisher_role_arn
  error_bucket_name         = module.storage.lakehouse_bucket_name
}

module "batch" {
  source = "../../modules/batch"

  name_prefix          = local.name_prefix
  vpc_id               = var.vpc_id
  subnet_ids           = var.private_subnet_ids
  worker_image         = var.worker_image
  instance_types       = var.batch_instance_types
  max_vcpus            = var.batch_max_vcpus
  instance_profile_arn = module.iam.batch_instance_profile_arn
  job_role_arn         = module.iam.worker_role_arn
  execution_role_arn   = module.iam.worker_execution_role_arn
  warehouse_uri        = module.storage.warehouse_uri
  kms_key_arn          = module.storage.kms_key_arn
}

module "dispatcher" {
  source = "../../modules/dispatcher"

  name_prefix                      = local.name_prefix
  package_path                     = var.dispatcher_package_path
  role_arn                         = module.iam.dispatcher_role_arn
  queue_arn                        = module.queue.queue_arn
  queue_visibility_timeout_seconds = module.queue.visibility_timeout_seconds
  timeout_seconds                  = var.dispatcher_timeout_seconds
  batching_window_seconds          = var.dispatcher_batching_window_seconds
  lakehouse_bucket_name            = module.storage.lakehouse_bucket_name
  job_queue_name                   = module.batch.job_queue_name
  job_definition_name              = module.batch.job_definition_name
  kms_key_arn                      = module.storage.kms_key_arn
  vpc_id                           = var.vpc_id
  subnet_ids                       = var.private_subnet_ids
}

module "iam" {
  source = "../../modules/iam"

  name_prefix              = local.name_prefix
  kms_key_arn              = module.storage.kms_key_arn
  raw_bucket_arn           = module.storage.raw_bucket_arn
  lakehouse_bucket_arn     = module.storage.lakehouse_bucket_arn
  query_results_bucket_arn = module.storage.query_results_bucket_arn

  queue_arn                = module.queue.queue_arn
  dispatcher_log_group_arn = module.dispatcher.log_group_arn

  job_queue_arn              = module.batch.job_queue_arn
  job_definition_name        = module.batch.job_definition_name
  worker_log_group_arn       = module.batch.log_group_arn
  worker_ecr_repository_arns = var.worker_ecr_repository_arns

  msk_cluster_arn       = module.stream.cluster_arn
  silver_topic_arn      = module.stream.topic_arns.silver
  dlq_topic_arn         = module.stream.topic_arns.dlq
  group_arn_prefix      = module.stream.group_arn_prefix
  stream_consumer_group = local.consumer_group
  scram_secret_arn      = module.stream.scram_secret_arn
  vpc_id                = var.vpc_id

  glue_database_names    = module.catalog.database_names
  athena_workgroup_arn   = module.catalog.athena_workgroup_arn
  analyst_principal_arns = var.analyst_principal_arns
}

module "observability" {
  source = "../../modules/observability"

  name_prefix              = local.name_prefix
  kms_key_arn              = module.storage.kms_key_arn
  alarm_emails             = var.alarm_emails
  queue_name               = module.queue.queue_name
  dlq_name                 = module.queue.dlq_name
  dispatcher_function_name = module.dispatcher.function_name
  job_queue_arn            = module.batch.job_queue_arn
  msk_cluster_name         = module.stream.cluster_name
  stream_topic             = local.kafka_topic
  stream_consumer_group    = local.consumer_group
}
