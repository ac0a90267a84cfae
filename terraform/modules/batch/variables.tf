variable "name_prefix" {
  description = "Prefix for every name this module creates (e.g. \"hsi-prod\")."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the worker instances."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the worker instances, in as many availability zones as possible (more Spot pools). They need a route to S3, ECR, Glue, KMS and CloudWatch Logs (NAT gateway or VPC endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "Give at least two subnets (two availability zones)."
  }
}

variable "worker_image" {
  description = "Container image of the Batch worker (runs `hsi-ingest work --manifest s3://...`), e.g. ACCOUNT.dkr.ecr.REGION.amazonaws.com/hsi-ingest:1.2.3. Pin a tag or digest, never `latest`."
  type        = string

  validation {
    condition     = !endswith(var.worker_image, ":latest") && length(regexall(":|@", var.worker_image)) > 0
    error_message = "worker_image must carry an explicit tag or digest (and not :latest), so a job retry runs the same code."
  }
}

variable "instance_profile_arn" {
  description = "Instance profile of the ECS container instances (modules/iam output batch_instance_profile_arn)."
  type        = string
}

variable "job_role_arn" {
  description = "Role the worker container runs as (modules/iam output worker_role_arn)."
  type        = string
}

variable "execution_role_arn" {
  description = "Role ECS uses to pull the image and write logs (modules/iam output worker_execution_role_arn)."
  type        = string
}

variable "instance_types" {
  description = "Spot instance types, sized by memory: general-purpose and memory-optimised families (4-8 GiB per vCPU) whose smallest size still fits one job. Many types across families and generations give price-capacity-optimized more Spot pools. Architecture must match worker_image."
  type        = list(string)
  default = [
    "m7i.large", "m6i.large", "m6a.large", "m5.large",
    "m7i.xlarge", "m6i.xlarge", "m6a.xlarge", "m5.xlarge",
    "r7i.large", "r6i.large", "r6a.large", "r5.large",
  ]

  validation {
    condition     = length(var.instance_types) >= 4 && alltrue([for t in var.instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))])
    error_message = "Give at least four explicit instance types (e.g. m6i.large): Spot needs diversification, and families like \"optimal\" hide the memory size."
  }
}

variable "max_vcpus" {
  description = "Upper bound of the compute environment (and so of Spot spend). At harvest: edge nodes x cubes per hour / cubes per job-hour x job_vcpus. It scales to 0 when the queue is empty."
  type        = number
  default     = 256
}

variable "job_vcpus" {
  description = "vCPUs per worker job."
  type        = number
  default     = 2
}

variable "job_memory_mib" {
  description = "Memory per worker job (MiB). The worker processes a cube block by block, so its memory is set by the block size, not the cube size (measured for the edge path only: docs/benchmarks.md#memory); the rest is Parquet/Zarr encoding and S3 multipart buffers."
  type        = number
  default     = 6144
}

variable "root_volume_gib" {
  description = "Root (Docker) volume per instance, encrypted gp3. Holds the job's scratch volume: the raw cube being processed (up to ~4 GB) and its outputs before upload."
  type        = number
  default     = 100
}

variable "retry_attempts" {
  description = "Attempts per job (1-10). Only Spot reclaims / host terminations are retried; an application error stops at the first attempt."
  type        = number
  default     = 5

  validation {
    condition     = var.retry_attempts >= 2 && var.retry_attempts <= 10
    error_message = "retry_attempts must be between 2 and 10 (1 would never retry a Spot reclaim)."
  }
}

variable "attempt_timeout_seconds" {
  description = "Timeout of one job attempt. A manifest has at most 200 cubes."
  type        = number
  default     = 14400
}

variable "warehouse_uri" {
  description = "Iceberg warehouse location (s3://BUCKET/warehouse) handed to the worker."
  type        = string
}

variable "kms_key_arn" {
  description = "Data key for the worker log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the worker log group."
  type        = number
  default     = 365
}

variable "extra_environment" {
  description = "Additional environment variables for the worker container (e.g. the catalog URI)."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
