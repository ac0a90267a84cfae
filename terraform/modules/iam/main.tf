# IAM: one least-privilege role per component, plus the plumbing roles AWS services need.
#
# | role                | assumed by                         | may                                                     |
# |---------------------|------------------------------------|---------------------------------------------------------|
# | edge_publisher      | devices via IoT credentials provider | produce to hsi.silver.v1; upload raw_cubes/ (no read, no tagging) |
# | dispatcher          | Lambda                             | consume the queue; write manifests/; submit worker jobs |
# | worker              | Batch job (ECS task)               | read raw_cubes/ + manifests/; tag processing_status; write warehouse/; commit tables |
# | worker_execution    | ECS agent                          | pull the image; write the worker log group              |
# | batch_instance      | EC2 (ECS container instance)       | AWS managed AmazonEC2ContainerServiceforEC2Role         |
# | stream_consumer     | ECS task (or EKS via the environment) | read hsi.silver.v1; write hsi.silver.v1.dlq; its group; write warehouse/; commit Silver |
# | analyst             | people (SSO roles)                 | Athena in the hsi workgroup; read Glue + warehouse/; results |
# | iot_rule            | AWS IoT                            | ENIs for the Kafka action; the SCRAM secret; ingest_errors/iot/ |
#
# No Allow statement uses a wildcard action, and no data-bucket permission is broader than the
# prefix it needs (terraform/tests/test_contracts.py checks both). Resource "*" appears only
# for actions that support no resource-level permissions (X-Ray, ECR auth token, EC2 Describe*).

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  glue_catalog_arn  = "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog"
  glue_db_arns      = [for d in var.glue_database_names : "arn:${local.partition}:glue:${local.region}:${local.account_id}:database/${d}"]
  glue_table_arns   = [for d in var.glue_database_names : "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${d}/*"]
  silver_db_arn     = "arn:${local.partition}:glue:${local.region}:${local.account_id}:database/${var.silver_database_name}"
  silver_tables_arn = "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${var.silver_database_name}/*"

  job_definition_arn = "arn:${local.partition}:batch:${local.region}:${local.account_id}:job-definition/${var.job_definition_name}"
}

# ---------------------------------------------------------------------------------------------
# Trust policies
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "trust_edge_publisher" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["credentials.iot.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "trust_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "trust_ecs_tasks" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "trust_stream_consumer" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = var.stream_consumer_trusted_services
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "trust_ec2" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "trust_iot" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["iot.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "trust_analyst" {
  statement {
    actions = ["sts:AssumeRole", "sts:SetSourceIdentity"]
    principals {
      type = "AWS"
      identifiers = length(var.analyst_principal_arns) > 0 ? var.analyst_principal_arns : [
        "arn:${local.partition}:iam::${local.account_id}:root"
      ]
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Edge publisher
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "edge_publisher" {
  name                 = "${var.name_prefix}-edge-publisher"
  description          = "hsi field equipment (IoT credentials provider): Kafka produce + raw cube backhaul"
  assume_role_policy   = data.aws_iam_policy_document.trust_edge_publisher.json
  max_session_duration = 3600
  tags                 = var.tags
}

data "aws_iam_policy_document" "edge_publisher" {
  statement {
    sid       = "KafkaConnectAndIdempotentProduce"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"]
    resources = [var.msk_cluster_arn]
  }

  statement {
    sid       = "ProduceSilverTopic"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
    resources = [var.silver_topic_arn]
  }

  # Backhaul: multipart, resumable uploads into raw_cubes/ only. No GetObject, no tagging (an
  # upload carrying a processing_status tag is refused), no delete.
  statement {
    sid       = "UploadRawCubes"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${var.raw_bucket_arn}/raw_cubes/*"]
  }

  statement {
    sid       = "ResumeRawCubeUploads"
    actions   = ["s3:ListBucketMultipartUploads"]
    resources = [var.raw_bucket_arn]
  }

  statement {
    sid       = "EncryptRawCubes"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "edge_publisher" {
  name   = "edge-publisher"
  role   = aws_iam_role.edge_publisher.id
  policy = data.aws_iam_policy_document.edge_publisher.json
}

# ---------------------------------------------------------------------------------------------
# Dispatcher (Lambda)
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "dispatcher" {
  name               = "${var.name_prefix}-dispatcher"
  description        = "hsi dispatcher Lambda: SQS -> manifests -> Batch"
  assume_role_policy = data.aws_iam_policy_document.trust_lambda.json
  tags               = var.tags
}

data "aws_iam_policy_document" "dispatcher" {
  statement {
    sid       = "ConsumeRawCubeEvents"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
    resources = [var.queue_arn]
  }

  statement {
    sid       = "WriteManifests"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${var.lakehouse_bucket_arn}/manifests/*"]
  }

  statement {
    sid       = "ListManifests"
    actions   = ["s3:ListBucket"]
    resources = [var.lakehouse_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["manifests/*"]
    }
  }

  statement {
    sid       = "SubmitWorkerJobs"
    actions   = ["batch:SubmitJob"]
    resources = [var.job_queue_arn, local.job_definition_arn, "${local.job_definition_arn}:*"]
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.dispatcher_log_group_arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions
  }
}

resource "aws_iam_role_policy" "dispatcher" {
  name   = "dispatcher"
  role   = aws_iam_role.dispatcher.id
  policy = data.aws_iam_policy_document.dispatcher.json
}

# Network interfaces in the VPC (AWS managed; scoped by Lambda itself).
resource "aws_iam_role_policy_attachment" "dispatcher_vpc" {
  role       = aws_iam_role.dispatcher.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

# ---------------------------------------------------------------------------------------------
# Worker (Batch job role), its execution role and the container instances' role
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "worker" {
  name               = "${var.name_prefix}-worker"
  description        = "hsi Batch worker: raw cubes -> Bronze/Silver"
  assume_role_policy = data.aws_iam_policy_document.trust_ecs_tasks.json
  tags               = var.tags
}

data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "ReadRawCubes"
    actions   = ["s3:GetObject", "s3:GetObjectTagging"]
    resources = ["${var.raw_bucket_arn}/raw_cubes/*"]
  }

  # After the commit the worker tags the raw object processing_status=complete (or failed);
  # the lifecycle rule then archives it. It may set no other tag key.
  statement {
    sid       = "TagProcessedRawCubes"
    actions   = ["s3:PutObjectTagging"]
    resources = ["${var.raw_bucket_arn}/raw_cubes/*"]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "s3:RequestObjectTagKeys"
      values   = ["processing_status"]
    }
  }

  # A bad cube gets a quarantine record beside the raw data, outside raw_cubes/ so that it
  # raises no S3 event (`[worker] quarantine_prefix`, default `quarantine/`:
  # `quarantine/{raw key}.error.json`).
  statement {
    sid       = "WriteQuarantineRecords"
    actions   = ["s3:PutObject"]
    resources = ["${var.raw_bucket_arn}/quarantine/*"]
  }

  statement {
    sid       = "ListRawCubes"
    actions   = ["s3:ListBucket"]
    resources = [var.raw_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["raw_cubes/*"]
    }
  }

  statement {
    sid       = "ReadManifests"
    actions   = ["s3:GetObject"]
    resources = ["${var.lakehouse_bucket_arn}/manifests/*"]
  }

  statement {
    sid       = "WriteWarehouse"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${var.lakehouse_bucket_arn}/warehouse/*"]
  }

  statement {
    sid       = "ListWarehouse"
    actions   = ["s3:ListBucket"]
    resources = [var.lakehouse_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["warehouse/*", "manifests/*"]
    }
  }

  statement {
    sid       = "CommitIcebergTables"
    actions   = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:UpdateTable"]
    resources = concat([local.glue_catalog_arn], local.glue_db_arns, local.glue_table_arns)
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "worker" {
  name   = "worker"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

resource "aws_iam_role" "worker_execution" {
  name               = "${var.name_prefix}-worker-execution"
  description        = "hsi Batch worker: image pull and logs (ECS agent)"
  assume_role_policy = data.aws_iam_policy_document.trust_ecs_tasks.json
  tags               = var.tags
}

data "aws_iam_policy_document" "worker_execution" {
  statement {
    sid       = "WorkerLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.worker_log_group_arn}:*"]
  }

  dynamic "statement" {
    for_each = length(var.worker_ecr_repository_arns) > 0 ? [1] : []
    content {
      sid       = "EcrAuthToken"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"] # GetAuthorizationToken has no resource-level permissions
    }
  }

  dynamic "statement" {
    for_each = length(var.worker_ecr_repository_arns) > 0 ? [1] : []
    content {
      sid       = "PullWorkerImage"
      actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
      resources = var.worker_ecr_repository_arns
    }
  }
}

resource "aws_iam_role_policy" "worker_execution" {
  name   = "worker-execution"
  role   = aws_iam_role.worker_execution.id
  policy = data.aws_iam_policy_document.worker_execution.json
}

resource "aws_iam_role" "batch_instance" {
  name               = "${var.name_prefix}-batch-instance"
  description        = "hsi Batch container instances (ECS agent)"
  assume_role_policy = data.aws_iam_policy_document.trust_ec2.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "batch_instance_ecs" {
  role       = aws_iam_role.batch_instance.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_instance_profile" "batch_instance" {
  name = "${var.name_prefix}-batch-instance"
  role = aws_iam_role.batch_instance.name
  tags = var.tags
}

# ---------------------------------------------------------------------------------------------
# Stream consumer (hsi-ingest stream: Kafka -> Silver)
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "stream_consumer" {
  name               = "${var.name_prefix}-stream-consumer"
  description        = "hsi stream consumer: hsi.silver.v1 -> Silver, exactly once"
  assume_role_policy = data.aws_iam_policy_document.trust_stream_consumer.json
  tags               = var.tags
}

data "aws_iam_policy_document" "stream_consumer" {
  statement {
    sid = "KafkaConnect"
    # WriteDataIdempotently: the DLQ producer is idempotent too.
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"]
    resources = [var.msk_cluster_arn]
  }

  statement {
    sid       = "ConsumeSilverTopic"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
    resources = [var.silver_topic_arn]
  }

  statement {
    sid       = "ProduceDeadLetterTopic"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
    resources = [var.dlq_topic_arn]
  }

  # Group offsets are committed after the Iceberg commit, for lag monitoring only.
  statement {
    sid       = "OwnConsumerGroup"
    actions   = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"]
    resources = ["${var.group_arn_prefix}${var.stream_consumer_group}"]
  }

  statement {
    sid       = "WriteWarehouse"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${var.lakehouse_bucket_arn}/warehouse/*"]
  }

  statement {
    sid       = "ListWarehouse"
    actions   = ["s3:ListBucket"]
    resources = [var.lakehouse_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["warehouse/*"]
    }
  }

  statement {
    sid       = "CommitSilver"
    actions   = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:UpdateTable"]
    resources = [local.glue_catalog_arn, local.silver_db_arn, local.silver_tables_arn]
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "stream_consumer" {
  name   = "stream-consumer"
  role   = aws_iam_role.stream_consumer.id
  policy = data.aws_iam_policy_document.stream_consumer.json
}

# ---------------------------------------------------------------------------------------------
# Analysts (Athena / Trino SQL over the lakehouse, read-only)
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "analyst" {
  name                 = "${var.name_prefix}-analyst"
  description          = "hsi analysts and agronomists: read-only SQL over the lakehouse"
  assume_role_policy   = data.aws_iam_policy_document.trust_analyst.json
  max_session_duration = 43200
  tags                 = var.tags
}

data "aws_iam_policy_document" "analyst" {
  statement {
    sid = "QueryInWorkgroup"
    actions = [
      "athena:StartQueryExecution",
      "athena:StopQueryExecution",
      "athena:GetQueryExecution",
      "athena:GetQueryResults",
      "athena:GetQueryResultsStream",
      "athena:BatchGetQueryExecution",
      "athena:ListQueryExecutions",
      "athena:GetWorkGroup",
    ]
    resources = [var.athena_workgroup_arn]
  }

  statement {
    sid = "ReadCatalog"
    actions = [
      "glue:GetDatabase",
      "glue:GetDatabases",
      "glue:GetTable",
      "glue:GetTables",
      "glue:GetPartition",
      "glue:GetPartitions",
    ]
    resources = concat([local.glue_catalog_arn], local.glue_db_arns, local.glue_table_arns)
  }

  statement {
    sid       = "ReadWarehouse"
    actions   = ["s3:GetObject"]
    resources = ["${var.lakehouse_bucket_arn}/warehouse/*"]
  }

  statement {
    sid       = "ListWarehouse"
    actions   = ["s3:ListBucket"]
    resources = [var.lakehouse_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["warehouse/*"]
    }
  }

  statement {
    sid       = "LocateBuckets"
    actions   = ["s3:GetBucketLocation"]
    resources = [var.lakehouse_bucket_arn, var.query_results_bucket_arn]
  }

  # Athena writes results with the caller's credentials.
  statement {
    sid       = "QueryResults"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${var.query_results_bucket_arn}/athena/*"]
  }

  statement {
    sid       = "ListQueryResults"
    actions   = ["s3:ListBucket", "s3:ListBucketMultipartUploads"]
    resources = [var.query_results_bucket_arn]
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "analyst" {
  name   = "analyst"
  role   = aws_iam_role.analyst.id
  policy = data.aws_iam_policy_document.analyst.json
}

# ---------------------------------------------------------------------------------------------
# IoT rule (MQTT -> MSK bridge)
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "iot_rule" {
  name               = "${var.name_prefix}-iot-rule"
  description        = "hsi IoT rule: Kafka action in the VPC, SCRAM secret, error payloads"
  assume_role_policy = data.aws_iam_policy_document.trust_iot.json
  tags               = var.tags
}

data "aws_iam_policy_document" "iot_rule" {
  # The Kafka action's VPC destination creates requester-managed network interfaces in our
  # subnets. Describe* calls support no resource-level permissions; the write calls are scoped
  # to this account's network interfaces, subnets and security groups in this region.
  statement {
    sid = "KafkaActionDescribeNetwork"
    actions = [
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSubnets",
      "ec2:DescribeVpcs",
      "ec2:DescribeSecurityGroups",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "KafkaActionDescribeVpc"
    actions   = ["ec2:DescribeVpcAttribute"]
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:vpc/${var.vpc_id}"]
  }

  statement {
    sid = "KafkaActionNetworkInterfaces"
    actions = [
      "ec2:CreateNetworkInterface",
      "ec2:CreateNetworkInterfacePermission",
      "ec2:DeleteNetworkInterface",
    ]
    resources = [
      "arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*",
      "arn:${local.partition}:ec2:${local.region}:${local.account_id}:subnet/*",
      "arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group/*",
    ]
  }

  statement {
    sid       = "ScramCredentials"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [var.scram_secret_arn]
  }

  statement {
    sid       = "KeepUndeliverablePayloads"
    actions   = ["s3:PutObject"]
    resources = ["${var.lakehouse_bucket_arn}/ingest_errors/iot/*"]
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "iot_rule" {
  name   = "iot-rule"
  role   = aws_iam_role.iot_rule.id
  policy = data.aws_iam_policy_document.iot_rule.json
}
