variable "name_prefix" {
  description = "Prefix for every name this module creates (e.g. \"hsi-prod\")."
  type        = string
}

variable "raw_bucket_arn" {
  description = "ARN of the raw-cube bucket: the only sender allowed by the queue policy. Built from the bucket name (arn:PARTITION:s3:::NAME) so this module does not wait for the bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.raw_bucket_arn))
    error_message = "raw_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::NAME)."
  }
}

variable "max_receive_count" {
  description = "Receives after which a message that keeps failing moves to the DLQ. Each failed dispatcher attempt (the message reported in batchItemFailures, or a timed-out invocation) is one receive."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be an integer between 1 and 1000."
  }
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the raw-cube queue. Lambda's guidance for SQS event sources is at least 6x the function timeout (the dispatcher module checks this): a message in flight stays hidden while its batch is processed and retried after throttling."
  type        = number
  default     = 360

  validation {
    condition     = var.visibility_timeout_seconds >= 30 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 30 and 43200 (12 h)."
  }
}

variable "message_retention_seconds" {
  description = "How long an undelivered event is kept in the main queue (default and maximum: 14 days, so a stopped dispatcher loses nothing for two weeks; the oldest-message alarm fires long before)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.message_retention_seconds >= 3600 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 3600 (1 h) and 1209600 (14 days)."
  }
}

variable "redrive_principal_arns" {
  description = "IAM principals (operators) allowed to move messages from the DLQ back to the main queue (SQS StartMessageMoveTask sends on their behalf). Everybody else is denied SendMessage unless the request comes from the raw bucket."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
