variable "name_prefix" {
  description = "Prefix for every name this module creates (e.g. \"hsi-prod\")."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 characters of lowercase letters, digits and hyphens."
  }
}

variable "raw_bucket_name" {
  description = "Name of the raw-cube bucket (edge backhaul lands under raw_cubes/{region}/{farm_id}/{yyyy}/{mm}/{dd}/{cube_id}.h5)."
  type        = string
}

variable "lakehouse_bucket_name" {
  description = "Name of the lakehouse bucket: Iceberg warehouse (warehouse/, Bronze Zarr under warehouse/bronze_zarr/) and dispatcher manifests (manifests/)."
  type        = string
}

variable "query_results_bucket_name" {
  description = "Name of the bucket that holds Athena query results."
  type        = string
}

variable "access_logs_bucket_name" {
  description = "Name of the bucket that receives S3 server access logs of the three data buckets."
  type        = string
}

variable "raw_notification_queue_arn" {
  description = "ARN of the SQS queue that receives ObjectCreated events for raw_cubes/. Pass the queue module's notification_target_arn so the queue policy exists before S3 validates the destination."
  type        = string
}

variable "raw_notification_suffix" {
  description = "Key suffix filter of the raw-cube notification (\".h5\" per the key layout; \"\" for every object under raw_cubes/)."
  type        = string
  default     = ".h5"
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which an unfinished multipart upload (an interrupted backhaul) is aborted and its parts deleted. The edge keeps the cube until the upload completes, so an aborted upload is simply restarted."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_days >= 1
    error_message = "abort_incomplete_multipart_days must be at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days a noncurrent (overwritten or deleted) object version is kept before it expires, in the raw and lakehouse buckets."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "query_results_expiration_days" {
  description = "Days Athena query results are kept."
  type        = number
  default     = 30
}

variable "access_logs_expiration_days" {
  description = "Days S3 server access logs are kept."
  type        = number
  default     = 365
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the data key is deleted after a destroy (7-30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "force_destroy" {
  description = "Allow terraform destroy to delete non-empty buckets. Keep false outside throwaway environments."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
