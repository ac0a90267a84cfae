variable "name_prefix" {
  description = "Prefix for every name this module creates (e.g. \"hsi-prod\")."
  type        = string
}

variable "package_path" {
  description = "Path of the cargo-lambda zip holding the `bootstrap` executable of hsi-dispatch-lambda (ingest crate), built for aarch64 (e.g. `cargo lambda build --release --arm64 --output-format zip --bin hsi-dispatch-lambda`)."
  type        = string

  validation {
    condition     = endswith(var.package_path, ".zip")
    error_message = "package_path must point at the .zip that cargo lambda produces."
  }
}

variable "role_arn" {
  description = "Execution role of the dispatcher (modules/iam output dispatcher_role_arn)."
  type        = string
}

variable "queue_arn" {
  description = "ARN of the raw-cube event queue (the event source)."
  type        = string
}

variable "queue_visibility_timeout_seconds" {
  description = "Visibility timeout of the event queue; must be at least 6x timeout_seconds (Lambda's guidance for SQS event sources)."
  type        = number
}

variable "timeout_seconds" {
  description = "Dispatcher timeout. One invocation writes one manifest and submits one Batch job, which takes seconds; the margin covers S3/Batch API retries."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout_seconds >= 10 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be between 10 and 900."
  }
}

variable "memory_mb" {
  description = "Dispatcher memory (MB). The Rust binary needs little; memory also buys CPU for TLS."
  type        = number
  default     = 256
}

variable "batching_window_seconds" {
  description = "How long the event source mapping gathers messages before invoking with fewer than 200 (the dispatcher's flush window). Required (>= 1) for batch sizes above 10."
  type        = number
  default     = 60

  validation {
    condition     = var.batching_window_seconds >= 1 && var.batching_window_seconds <= 300
    error_message = "batching_window_seconds must be between 1 and 300."
  }
}

variable "max_concurrency" {
  description = "Most concurrent dispatcher invocations (event source scaling limit and reserved concurrency). Each invocation submits one Batch job per manifest of up to 200 cubes."
  type        = number
  default     = 5

  validation {
    condition     = var.max_concurrency >= 2 && var.max_concurrency <= 1000
    error_message = "max_concurrency must be between 2 and 1000 (the event source mapping minimum is 2)."
  }
}

variable "lakehouse_bucket_name" {
  description = "Bucket the manifests are written to (manifests/{yyyy}/{mm}/{dd}/{id}.json)."
  type        = string
}

variable "job_queue_name" {
  description = "Batch job queue the dispatcher submits to."
  type        = string
}

variable "job_definition_name" {
  description = "Batch job definition name (without revision: the latest ACTIVE revision is used)."
  type        = string
}

variable "kms_key_arn" {
  description = "Data key: encrypts the function's environment variables and its log group."
  type        = string
}

variable "vpc_id" {
  description = "VPC the dispatcher runs in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the dispatcher. They need a route to SQS, S3, Batch, KMS, CloudWatch Logs and X-Ray (NAT gateway or VPC endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "Give at least two subnets (two availability zones)."
  }
}

variable "log_retention_days" {
  description = "Retention of the dispatcher's log group."
  type        = number
  default     = 365
}

variable "log_level" {
  description = "RUST_LOG (tracing filter) for the dispatcher."
  type        = string
  default     = "info"
}

variable "extra_environment" {
  description = "Additional environment variables for the dispatcher (merged over the defaults)."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
