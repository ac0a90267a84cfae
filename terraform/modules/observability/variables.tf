variable "name_prefix" {
  description = "Prefix for every name this module creates (e.g. \"hsi-prod\")."
  type        = string
}

variable "kms_key_arn" {
  description = "Data key: encrypts the alarm topic and the failed-job event log group."
  type        = string
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm the subscription)."
  type        = list(string)
  default     = []
}

variable "queue_name" {
  description = "Name of the raw-cube event queue."
  type        = string
}

variable "dlq_name" {
  description = "Name of the raw-cube dead-letter queue."
  type        = string
}

variable "oldest_message_age_threshold_seconds" {
  description = "Alarm when the oldest event in the raw-cube queue is older than this: the dispatcher is down, throttled or failing (events are kept 14 days)."
  type        = number
  default     = 1800
}

variable "dispatcher_function_name" {
  description = "Name of the dispatcher Lambda."
  type        = string
}

variable "job_queue_arn" {
  description = "ARN of the worker job queue whose failed jobs are counted."
  type        = string
}

variable "msk_cluster_name" {
  description = "Name of the MSK cluster."
  type        = string
}

variable "stream_topic" {
  description = "Topic the stream consumer reads."
  type        = string
  default     = "hsi.silver.v1"
}

variable "stream_consumer_group" {
  description = "Consumer group of the stream consumer (it commits offsets after each Iceberg commit, which is what MSK's lag metrics see)."
  type        = string
  default     = "hsi-stream-silver"
}

variable "stream_lag_threshold_seconds" {
  description = "Alarm when the stream consumer is this far behind the newest record (MSK EstimatedMaxTimeLag)."
  type        = number
  default     = 900
}

variable "log_retention_days" {
  description = "Retention of the failed-job event log group."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
