variable "name_prefix" {
  description = "Prefix for every name this module creates (e.g. \"hsi-prod\")."
  type        = string
}

variable "namespaces" {
  description = "Iceberg namespaces of the lakehouse (hsi_lakehouse::table::NAMESPACES). Iceberg's Glue catalog maps each namespace to a Glue database of the same name, so names are not prefixed: use one environment per account and region."
  type        = list(string)
  default     = ["bronze", "silver", "gold", "ref", "ops"]

  validation {
    condition     = alltrue([for n in var.namespaces : can(regex("^[a-z][a-z0-9_]*$", n))])
    error_message = "Namespaces must be lowercase Glue database names (letters, digits, underscores)."
  }
}

variable "lakehouse_bucket_name" {
  description = "Bucket of the Iceberg warehouse."
  type        = string
}

variable "warehouse_prefix" {
  description = "Key prefix of the warehouse in the lakehouse bucket (tables live at {warehouse}/{namespace}/{table})."
  type        = string
  default     = "warehouse"
}

variable "query_results_bucket_name" {
  description = "Bucket Athena writes query results to."
  type        = string
}

variable "kms_key_arn" {
  description = "Data key: encrypts Athena query results."
  type        = string
}

variable "bytes_scanned_cutoff_per_query" {
  description = "Athena cancels a query of this workgroup that scans more (bytes). Silver is one row per pixel: partition filters (farm_id, acquisition day) keep queries far below this."
  type        = number
  default     = 214748364800 # 200 GiB
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
