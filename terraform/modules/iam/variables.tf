variable "name_prefix" {
  description = "Prefix for every name this module creates (e.g. \"hsi-prod\")."
  type        = string
}

variable "kms_key_arn" {
  description = "Data key every role encrypts/decrypts with (S3 SSE-KMS, secrets, Lambda environment)."
  type        = string
}

variable "raw_bucket_arn" {
  description = "ARN of the raw-cube bucket."
  type        = string
}

variable "lakehouse_bucket_arn" {
  description = "ARN of the lakehouse bucket."
  type        = string
}

variable "query_results_bucket_arn" {
  description = "ARN of the Athena query-results bucket."
  type        = string
}

variable "queue_arn" {
  description = "ARN of the raw-cube event queue the dispatcher consumes."
  type        = string
}

variable "dispatcher_log_group_arn" {
  description = "ARN of the dispatcher's log group."
  type        = string
}

variable "job_queue_arn" {
  description = "ARN of the Batch job queue the dispatcher submits to."
  type        = string
}

variable "job_definition_name" {
  description = "Name of the worker job definition (every revision may be submitted)."
  type        = string
}

variable "worker_log_group_arn" {
  description = "ARN of the worker containers' log group."
  type        = string
}

variable "worker_ecr_repository_arns" {
  description = "ECR repositories the worker image is pulled from. Empty when the image lives in another registry (then configure repositoryCredentials instead)."
  type        = list(string)
  default     = []
}

variable "msk_cluster_arn" {
  description = "ARN of the MSK cluster."
  type        = string
}

variable "silver_topic_arn" {
  description = "IAM resource ARN of the Silver topic (modules/stream output topic_arns.silver)."
  type        = string
}

variable "dlq_topic_arn" {
  description = "IAM resource ARN of the dead-letter topic (modules/stream output topic_arns.dlq)."
  type        = string
}

variable "group_arn_prefix" {
  description = "IAM resource ARN prefix of the cluster's consumer groups (modules/stream output group_arn_prefix)."
  type        = string
}

variable "stream_consumer_group" {
  description = "Kafka consumer group id of the stream consumer (hsi-ingest stream)."
  type        = string
  default     = "hsi-stream-silver"
}

variable "stream_consumer_trusted_services" {
  description = "Service principals that run the stream consumer and may assume its role (ECS tasks by default). For EKS, add an IRSA/Pod Identity trust in the environment instead."
  type        = list(string)
  default     = ["ecs-tasks.amazonaws.com"]
}

variable "vpc_id" {
  description = "VPC of the IoT rule's network interfaces (its DescribeVpcAttribute permission is scoped to it)."
  type        = string
}

variable "scram_secret_arn" {
  description = "ARN of the IoT bridge's SCRAM secret."
  type        = string
}

variable "glue_database_names" {
  description = "Glue databases of the Iceberg namespaces."
  type        = list(string)
}

variable "silver_database_name" {
  description = "Glue database of the Silver namespace: the only one the stream consumer writes to."
  type        = string
  default     = "silver"
}

variable "athena_workgroup_arn" {
  description = "ARN of the analysts' Athena workgroup."
  type        = string
}

variable "analyst_principal_arns" {
  description = "Principals (SSO permission-set roles, users) allowed to assume the analyst role. Empty: the account root, i.e. whoever this account's IAM policies allow."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
