output "kms_key_arn" {
  description = "ARN of the customer-managed data key (S3 SSE-KMS, logs, MSK, secrets, alarm topic)."
  value       = aws_kms_key.data.arn
}

output "raw_bucket_name" {
  description = "Name of the raw-cube bucket."
  value       = aws_s3_bucket.raw.id
}

output "raw_bucket_arn" {
  description = "ARN of the raw-cube bucket."
  value       = aws_s3_bucket.raw.arn
}

output "lakehouse_bucket_name" {
  description = "Name of the lakehouse bucket."
  value       = aws_s3_bucket.lakehouse.id
}

output "lakehouse_bucket_arn" {
  description = "ARN of the lakehouse bucket."
  value       = aws_s3_bucket.lakehouse.arn
}

output "query_results_bucket_name" {
  description = "Name of the Athena query-results bucket."
  value       = aws_s3_bucket.query_results.id
}

output "query_results_bucket_arn" {
  description = "ARN of the Athena query-results bucket."
  value       = aws_s3_bucket.query_results.arn
}

output "access_logs_bucket_name" {
  description = "Name of the S3 access-log bucket."
  value       = aws_s3_bucket.access_logs.id
}

output "prefixes" {
  description = "Key prefixes the pipeline uses: raw cubes (raw bucket), Iceberg warehouse incl. Bronze Zarr, dispatcher manifests and IoT dead letters (lakehouse bucket)."
  value = {
    raw_cubes  = local.raw_prefix
    warehouse  = local.warehouse_path
    bronze     = "${local.warehouse_path}bronze_zarr/"
    manifests  = local.manifests_path
    iot_errors = local.iot_errors_path
  }
}

output "warehouse_uri" {
  description = "The Iceberg warehouse location to give the lakehouse (hsi --warehouse)."
  value       = "s3://${aws_s3_bucket.lakehouse.id}/${trimsuffix(local.warehouse_path, "/")}"
}
