# Catalog and query: one Glue database per Iceberg namespace (bronze, silver, gold, ref, ops)
# and an Athena workgroup on engine version 3 (Trino-based) whose results go, KMS-encrypted, to
# the results bucket. Analysts query e.g. `SELECT ... FROM gold.plot_indices`.

data "aws_caller_identity" "current" {}

resource "aws_glue_catalog_database" "namespace" {
  for_each = toset(var.namespaces)

  name         = each.value
  description  = "hsi Iceberg namespace ${each.value}"
  location_uri = "s3://${var.lakehouse_bucket_name}/${var.warehouse_prefix}/${each.value}"
  tags         = var.tags
}

resource "aws_athena_workgroup" "analysts" {
  name          = "${var.name_prefix}-analysts"
  description   = "hsi lakehouse queries (Athena engine v3, Trino SQL)"
  state         = "ENABLED"
  force_destroy = false

  configuration {
    # Clients cannot override the output location or the encryption.
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff_per_query

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location       = "s3://${var.query_results_bucket_name}/athena/"
      expected_bucket_owner = data.aws_caller_identity.current.account_id

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }

  tags = var.tags
}
