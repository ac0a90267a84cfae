variable "region" {
  description = "AWS region of the environment."
  type        = string
}

variable "project" {
  description = "Project name, first part of every resource name."
  type        = string
  default     = "hsi"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,7}$", var.project))
    error_message = "project must be 2-8 lowercase letters or digits (bucket names must stay within 63 characters)."
  }
}

variable "environment" {
  description = "Environment name (e.g. prod, staging)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2-10 lowercase letters or digits (bucket names must stay within 63 characters)."
  }
}

variable "vpc_id" {
  description = "Existing VPC for the dispatcher, the Batch workers, MSK and the IoT rule's network interfaces."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets, one per availability zone (3 recommended: MSK uses one broker per zone). They need a NAT gateway or VPC endpoints for S3 (gateway), SQS, Batch, ECR, Glue, KMS, Logs, Secrets Manager and X-Ray."
  type        = list(string)
}

variable "dispatcher_package_path" {
  description = "cargo-lambda zip of hsi-dispatch-lambda (bootstrap, arm64)."
  type        = string
}

variable "dispatcher_timeout_seconds" {
  description = "Dispatcher Lambda timeout; the queue's visibility timeout is set to 6x this."
  type        = number
  default     = 60
}

variable "dispatcher_batching_window_seconds" {
  description = "How long the event source waits to fill a 200-message batch."
  type        = number
  default     = 60
}

variable "max_receive_count" {
  description = "Receives before a raw-cube event moves to the DLQ."
  type        = number
  default     = 5
}

variable "redrive_principal_arns" {
  description = "Operator principals allowed to move DLQ messages back to the main queue."
  type        = list(string)
  default     = []
}

variable "worker_image" {
  description = "Worker container image (hsi-ingest), with an explicit tag or digest."
  type        = string
}

variable "worker_ecr_repository_arns" {
  description = "ECR repositories the worker image is pulled from."
  type        = list(string)
  default     = []
}

variable "batch_max_vcpus" {
  description = "Upper bound of the Spot compute environment."
  type        = number
  default     = 256
}

variable "batch_instance_types" {
  description = "Spot instance types of the workers (must match the image's architecture)."
  type        = list(string)
  default = [
    "m7i.large", "m6i.large", "m6a.large", "m5.large",
    "m7i.xlarge", "m6i.xlarge", "m6a.xlarge", "m5.xlarge",
    "r7i.large", "r6i.large", "r6a.large", "r5.large",
  ]
}

variable "kafka_client_cidr_blocks" {
  description = "Networks (e.g. farm sites over VPN) whose equipment produces to Kafka directly."
  type        = list(string)
  default     = []
}

variable "stream_consumer_security_group_ids" {
  description = "Security groups of the stream consumer's tasks (allowed to reach the brokers)."
  type        = list(string)
  default     = []
}

variable "msk_broker_instance_type" {
  description = "MSK broker instance type."
  type        = string
  default     = "kafka.m7g.large"
}

variable "msk_broker_volume_gib" {
  description = "EBS storage per MSK broker."
  type        = number
  default     = 1000
}

variable "analyst_principal_arns" {
  description = "Principals allowed to assume the analyst role (e.g. SSO permission-set roles)."
  type        = list(string)
  default     = []
}

variable "alarm_emails" {
  description = "E-mail addresses that receive alarms."
  type        = list(string)
  default     = []
}

variable "force_destroy_buckets" {
  description = "Let terraform destroy delete non-empty buckets (throwaway environments only)."
  type        = bool
  default     = false
}
