# Storage: the data key, the raw-cube bucket (lifecycle + ObjectCreated notification), the
# lakehouse bucket (Iceberg warehouse, Bronze Zarr, manifests), the Athena results bucket and the
# access-log bucket.
#
# Contract (DESIGN §7): objects under raw_cubes/ that the worker has tagged
# processing_status=complete move to Glacier Instant Retrieval 1 day after creation and to Deep
# Archive 365 days after creation. Untagged (not yet processed) or failed cubes stay in Standard,
# so a retry never pays a restore. terraform/tests/test_contracts.py asserts this.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  raw_prefix      = "raw_cubes/"
  warehouse_path  = "warehouse/"
  manifests_path  = "manifests/"
  iot_errors_path = "ingest_errors/iot/"

  # The three buckets that hold data: SSE-KMS with the data key, versioned, access-logged.
  data_buckets = {
    raw       = aws_s3_bucket.raw.id
    lakehouse = aws_s3_bucket.lakehouse.id
    results   = aws_s3_bucket.query_results.id
  }
}

# ---------------------------------------------------------------------------------------------
# Data key: S3 (SSE-KMS), CloudWatch Logs, MSK at rest, the MSK SCRAM secret, SNS alarm topic.
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "data_key" {
  #checkov:skip=CKV_AWS_109:Key policy: Resource "*" means this key only, and the account-root statement is AWS's default that keeps the key manageable through IAM.
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" means this key only; service statements are limited by service principal and source-account/encryption-context conditions.
  #checkov:skip=CKV_AWS_356:Key policy: a key policy cannot name its own ARN, Resource "*" is the required form.
  # Key administration stays with the account: IAM policies decide who may use the key
  # (the per-component roles in modules/iam grant kms:Decrypt/GenerateDataKey on this key only).
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy "*" means this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts this account's log groups (Lambda, Batch, MSK brokers, events).
  statement {
    sid = "CloudWatchLogsEncryptsThisAccountsLogGroups"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
      "kms:GenerateDataKey",
      "kms:GenerateDataKeyWithoutPlaintext",
      "kms:DescribeKey",
    ]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  # CloudWatch alarms publish to the KMS-encrypted SNS alarm topic.
  statement {
    sid       = "CloudWatchAlarmsPublishToEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "data" {
  description             = "${var.name_prefix}: data key (S3, logs, MSK, secrets, alarms)"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.data_key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "data" {
  name          = "alias/${var.name_prefix}-data"
  target_key_id = aws_kms_key.data.key_id
}

# ---------------------------------------------------------------------------------------------
# Buckets
# ---------------------------------------------------------------------------------------------

resource "aws_s3_bucket" "raw" {
  #checkov:skip=CKV_AWS_144:Cross-region replication of multi-TB raw cubes is a per-deployment DR decision; add an aws_s3_bucket_replication_configuration in the environment when required.
  bucket        = var.raw_bucket_name
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { "hsi:data" = "raw-cubes" })
}

resource "aws_s3_bucket" "lakehouse" {
  #checkov:skip=CKV_AWS_144:Iceberg tables are rebuilt from raw cubes (reprocess); replicate per deployment if a second region is required.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events from the lakehouse bucket; commits are tracked in Iceberg snapshots.
  bucket        = var.lakehouse_bucket_name
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { "hsi:data" = "lakehouse" })
}

resource "aws_s3_bucket" "query_results" {
  #checkov:skip=CKV_AWS_144:Athena results are disposable and expire after query_results_expiration_days; replication would only add cost.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events from the Athena results bucket.
  bucket        = var.query_results_bucket_name
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { "hsi:data" = "query-results" })
}

resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_18:This is the access-log target bucket; logging it into itself would loop.
  #checkov:skip=CKV_AWS_144:Access logs are an audit trail kept in-region; replicate per deployment if required.
  #checkov:skip=CKV_AWS_145:S3 server access log delivery supports only SSE-S3 (AES256) on the target bucket, not SSE-KMS.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events from the access-log bucket.
  bucket        = var.access_logs_bucket_name
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { "hsi:data" = "access-logs" })
}

resource "aws_s3_bucket_versioning" "data" {
  for_each = local.data_buckets
  bucket   = each.value
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  for_each = local.data_buckets
  bucket   = each.value
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.data.arn
    }
    # One data-key request per bucket and time window instead of one per object: thousands of
    # Parquet/Zarr objects per cube would otherwise hit KMS request quotas.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "data" {
  for_each                = local.data_buckets
  bucket                  = each.value
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "data" {
  for_each = local.data_buckets
  bucket   = each.value
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_logging" "data" {
  for_each      = local.data_buckets
  bucket        = each.value
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "s3/${each.value}/"
}

# TLS-only: every request over plain HTTP, or with TLS older than 1.2, is denied.
data "aws_iam_policy_document" "tls_only" {
  for_each = local.data_buckets

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      "arn:${local.partition}:s3:::${each.value}",
      "arn:${local.partition}:s3:::${each.value}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid     = "DenyTlsOlderThan12"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      "arn:${local.partition}:s3:::${each.value}",
      "arn:${local.partition}:s3:::${each.value}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "data" {
  for_each = local.data_buckets
  bucket   = each.value
  policy   = data.aws_iam_policy_document.tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.data]
}

# ---------------------------------------------------------------------------------------------
# Raw bucket: lifecycle and notification
# ---------------------------------------------------------------------------------------------

resource "aws_s3_bucket_lifecycle_configuration" "raw" {
  bucket = aws_s3_bucket.raw.id

  # The seed's tiering: only cubes the worker has committed and tagged move to cold storage.
  # Days count from object creation. No expiration: raw cubes are the source of truth for
  # reprocessing with a new calibration.
  rule {
    id     = "archive-processed-raw-cubes"
    status = "Enabled"

    filter {
      and {
        prefix = "raw_cubes/"
        tags = {
          processing_status = "complete"
        }
      }
    }

    transition {
      days          = 1
      storage_class = "GLACIER_IR"
    }

    transition {
      days          = 365
      storage_class = "DEEP_ARCHIVE"
    }
  }

  # S3 refuses AbortIncompleteMultipartUpload in a rule with a tag filter, so it has its own
  # rule over the whole bucket (parts of an interrupted backhaul are billed until aborted).
  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }

  # Versioning protects against accidental deletes and overwrites; old versions are not kept
  # forever. Tagging an object (processing_status) does not create a new version.
  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.data]
}

resource "aws_s3_bucket_notification" "raw" {
  bucket = aws_s3_bucket.raw.id

  queue {
    id            = "raw-cube-created"
    queue_arn     = var.raw_notification_queue_arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = "raw_cubes/"
    filter_suffix = var.raw_notification_suffix
  }
}

# ---------------------------------------------------------------------------------------------
# Lakehouse and results buckets: lifecycle
# ---------------------------------------------------------------------------------------------

resource "aws_s3_bucket_lifecycle_configuration" "lakehouse" {
  bucket = aws_s3_bucket.lakehouse.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }

  # Iceberg snapshot expiry deletes data files; with versioning they become noncurrent and are
  # removed here after the grace period (an accidental delete can be undone until then).
  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.data]
}

resource "aws_s3_bucket_lifecycle_configuration" "query_results" {
  bucket = aws_s3_bucket.query_results.id

  rule {
    id     = "expire-query-results"
    status = "Enabled"

    filter {}

    expiration {
      days = var.query_results_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.data]
}

# ---------------------------------------------------------------------------------------------
# Access-log bucket (SSE-S3: the only encryption S3 log delivery supports)
# ---------------------------------------------------------------------------------------------

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

data "aws_iam_policy_document" "access_logs" {
  statement {
    sid       = "S3ServerAccessLogDelivery"
    actions   = ["s3:PutObject"]
    resources = ["arn:${local.partition}:s3:::${var.access_logs_bucket_name}/s3/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [for b in values(local.data_buckets) : "arn:${local.partition}:s3:::${b}"]
    }
  }

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      "arn:${local.partition}:s3:::${var.access_logs_bucket_name}",
      "arn:${local.partition}:s3:::${var.access_logs_bucket_name}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs.json

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_logs_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 7
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}
