variable "name_prefix" {
  description = "Prefix for every name this module creates (e.g. \"hsi-prod\")."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the MSK brokers and of the IoT rule's network interfaces."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the brokers, one per availability zone (2 or 3)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2 && length(var.subnet_ids) <= 3
    error_message = "MSK needs 2 or 3 subnets in distinct availability zones."
  }
}

variable "kafka_version" {
  description = "Kafka version of the MSK cluster."
  type        = string
  default     = "3.6.0"
}

variable "broker_instance_type" {
  description = "Broker instance type."
  type        = string
  default     = "kafka.m7g.large"
}

variable "broker_count" {
  description = "Number of brokers: a multiple of the number of subnets, at least 3 for replication factor 3."
  type        = number
  default     = 3

  validation {
    condition     = var.broker_count >= 3
    error_message = "broker_count must be at least 3 (topics use replication factor 3 and min.insync.replicas 2)."
  }
}

variable "broker_volume_gib" {
  description = "EBS storage per broker (GiB). Sizing: peak MB/s into hsi.silver.v1 x retention x 3 replicas / broker_count, plus 30 % headroom."
  type        = number
  default     = 1000
}

variable "kms_key_arn" {
  description = "Data key: MSK encryption at rest, the SCRAM secret of the IoT bridge, the broker log group."
  type        = string
}

variable "client_security_group_ids" {
  description = "Security groups allowed to reach the brokers over IAM auth (port 9098), e.g. the stream consumer's tasks."
  type        = list(string)
  default     = []
}

variable "client_cidr_blocks" {
  description = "CIDR ranges allowed to reach the brokers over IAM auth (port 9098), e.g. farm sites connected by VPN or Direct Connect that produce to Kafka directly."
  type        = list(string)
  default     = []
}

variable "topic" {
  description = "Silver topic the edge produces to."
  type        = string
  default     = "hsi.silver.v1"
}

variable "dlq_topic" {
  description = "Dead-letter topic the stream consumer moves poison records to."
  type        = string
  default     = "hsi.silver.v1.dlq"
}

variable "topic_partitions" {
  description = "Partitions of the Silver topic: the upper bound of stream-consumer parallelism. Records are keyed by cube_id."
  type        = number
  default     = 12
}

variable "retention_hours" {
  description = "Retention of the Silver topic. It bounds how long the stream consumer may be down without losing data (the edge outbox keeps unacknowledged chunks only)."
  type        = number
  default     = 168
}

variable "dlq_retention_hours" {
  description = "Retention of the dead-letter topic."
  type        = number
  default     = 720
}

variable "max_message_bytes" {
  description = "Largest record the brokers accept (MSK allows up to 8 MiB). The edge sizes Parquet chunks below its producer's max_message_bytes."
  type        = number
  default     = 8388608
}

variable "mqtt_topic_prefix" {
  description = "MQTT topic prefix the IoT rule listens on; equipment publishes to PREFIX/{thing_name}/{cube_id}."
  type        = string
  default     = "hsi/silver/v1"

  validation {
    condition     = can(regex("^[a-z0-9_-]+(/[a-z0-9._-]+)*$", var.mqtt_topic_prefix))
    error_message = "mqtt_topic_prefix must be slash-separated plain segments (no wildcards, no leading or trailing slash)."
  }
}

variable "iot_rule_role_arn" {
  description = "Role the IoT rule assumes (modules/iam output iot_rule_role_arn): network interfaces in the VPC, the SCRAM secret, the error-action bucket."
  type        = string
}

variable "edge_publisher_role_arn" {
  description = "Role edge devices obtain through the IoT credentials provider (modules/iam output edge_publisher_role_arn)."
  type        = string
}

variable "error_bucket_name" {
  description = "Bucket the IoT rule's error action writes undeliverable MQTT payloads to (under ingest_errors/iot/), so nothing is lost when MSK is unreachable."
  type        = string
}

variable "enhanced_monitoring" {
  description = "MSK enhanced monitoring level. Consumer-lag metrics (EstimatedMaxTimeLag, SumOffsetLag) are emitted at every level."
  type        = string
  default     = "PER_TOPIC_PER_BROKER"
}

variable "log_retention_days" {
  description = "Retention of the broker log group."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
