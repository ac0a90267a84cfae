# Stream: Amazon MSK for the edge stream (IAM auth, TLS in transit and between brokers, KMS at
# rest) and the AWS IoT Core rule that bridges edge MQTT to the same topic.
#
# Two ways in for field equipment, one topic:
#   1. Kafka directly (VPN/Direct Connect to the VPC): SASL/IAM on port 9098 with temporary
#      credentials of the edge publisher role, obtained with the device's X.509 certificate
#      through the IoT credentials provider (role alias below). Idempotent producer, acks=all.
#   2. MQTT over the internet to AWS IoT Core: PREFIX/{thing_name}/{cube_id}, the Parquet chunk
#      as the binary payload and the hsi-* Kafka headers as MQTT 5 user properties. The rule
#      forwards it to MSK with key = cube_id. IoT's Kafka action cannot use IAM auth, so the
#      bridge alone authenticates with SASL/SCRAM (port 9096), reachable only from the rule's
#      network interfaces. MQTT payloads are limited to 128 KiB: chunks sent this way must be
#      sized accordingly (e.g. the `field` profile).
#
# Topics are not Terraform resources (MSK provisioned has no topic API in the AWS provider and
# auto-creation is off). Their settings are in local.topics, exported as the `topics` output and
# documented, with the commands that create them, in terraform/README.md.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id   = data.aws_caller_identity.current.account_id
  region       = data.aws_region.current.name
  partition    = data.aws_partition.current.partition
  cluster_name = "${var.name_prefix}-stream"

  scram_username = "iot-bridge"

  # MQTT topic PREFIX/{thing_name}/{cube_id}: positions (1-based) of the last two levels.
  thing_level = length(split("/", var.mqtt_topic_prefix)) + 1
  cube_level  = length(split("/", var.mqtt_topic_prefix)) + 2

  topics = {
    (var.topic) = {
      partitions         = var.topic_partitions
      replication_factor = 3
      config = {
        "min.insync.replicas"            = "2"
        "retention.ms"                   = tostring(var.retention_hours * 3600000)
        "max.message.bytes"              = tostring(var.max_message_bytes)
        "cleanup.policy"                 = "delete"
        "compression.type"               = "producer" # chunks are ZSTD Parquet already
        "unclean.leader.election.enable" = "false"
      }
    }
    (var.dlq_topic) = {
      partitions         = 3
      replication_factor = 3
      config = {
        "min.insync.replicas"            = "2"
        "retention.ms"                   = tostring(var.dlq_retention_hours * 3600000)
        "max.message.bytes"              = tostring(var.max_message_bytes)
        "cleanup.policy"                 = "delete"
        "compression.type"               = "producer"
        "unclean.leader.election.enable" = "false"
      }
    }
  }
}

# ---------------------------------------------------------------------------------------------
# MSK
# ---------------------------------------------------------------------------------------------

resource "aws_msk_configuration" "this" {
  name           = "${local.cluster_name}-config"
  kafka_versions = [var.kafka_version]
  description    = "hsi: no topic auto-creation, RF 3 / min ISR 2, ACLs required for SCRAM users"

  server_properties = <<-PROPERTIES
    auto.create.topics.enable=false
    default.replication.factor=3
    min.insync.replicas=2
    num.partitions=${var.topic_partitions}
    unclean.leader.election.enable=false
    message.max.bytes=${var.max_message_bytes}
    replica.fetch.max.bytes=${var.max_message_bytes}
    log.retention.hours=${var.retention_hours}
    allow.everyone.if.no.acl.found=false
  PROPERTIES
}

resource "aws_cloudwatch_log_group" "brokers" {
  name              = "/aws/msk/${local.cluster_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_security_group" "brokers" {
  name        = "${local.cluster_name}-brokers"
  description = "hsi MSK brokers: IAM (9098) from clients, SCRAM (9096) from the IoT rule only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "brokers_self" {
  security_group_id            = aws_security_group.brokers.id
  description                  = "Broker to broker"
  referenced_security_group_id = aws_security_group.brokers.id
  ip_protocol                  = "tcp"
  from_port                    = 9092
  to_port                      = 9098
}

resource "aws_vpc_security_group_egress_rule" "brokers_self" {
  security_group_id            = aws_security_group.brokers.id
  description                  = "Broker to broker"
  referenced_security_group_id = aws_security_group.brokers.id
  ip_protocol                  = "tcp"
  from_port                    = 9092
  to_port                      = 9098
}

resource "aws_vpc_security_group_ingress_rule" "iam_clients_sg" {
  for_each                     = toset(var.client_security_group_ids)
  security_group_id            = aws_security_group.brokers.id
  description                  = "Kafka clients, SASL/IAM over TLS"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 9098
  to_port                      = 9098
}

resource "aws_vpc_security_group_ingress_rule" "iam_clients_cidr" {
  for_each          = toset(var.client_cidr_blocks)
  security_group_id = aws_security_group.brokers.id
  description       = "Kafka clients (edge sites over VPN/DX), SASL/IAM over TLS"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 9098
  to_port           = 9098
}

resource "aws_vpc_security_group_ingress_rule" "iot_bridge" {
  security_group_id            = aws_security_group.brokers.id
  description                  = "AWS IoT rule Kafka action, SASL/SCRAM over TLS"
  referenced_security_group_id = aws_security_group.iot_rule.id
  ip_protocol                  = "tcp"
  from_port                    = 9096
  to_port                      = 9096
}

resource "aws_msk_cluster" "this" {
  cluster_name           = local.cluster_name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = var.broker_count
  enhanced_monitoring    = var.enhanced_monitoring

  broker_node_group_info {
    instance_type   = var.broker_instance_type
    client_subnets  = var.subnet_ids
    security_groups = [aws_security_group.brokers.id]

    storage_info {
      ebs_storage_info {
        volume_size = var.broker_volume_gib
      }
    }

    connectivity_info {
      public_access {
        type = "DISABLED"
      }
    }
  }

  client_authentication {
    unauthenticated = false
    sasl {
      iam   = true # every client except the IoT bridge
      scram = true # the IoT rule's Kafka action only (it cannot sign IAM requests)
    }
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = var.kms_key_arn
    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this.arn
    revision = aws_msk_configuration.this.latest_revision
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.brokers.name
      }
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.broker_count % length(var.subnet_ids) == 0
      error_message = "broker_count must be a multiple of the number of subnets (MSK spreads brokers evenly over the availability zones)."
    }
  }
}

# ---------------------------------------------------------------------------------------------
# SCRAM credentials of the IoT bridge (secret name must start with AmazonMSK_, CMK-encrypted)
# ---------------------------------------------------------------------------------------------

resource "aws_secretsmanager_secret" "iot_bridge" {
  #checkov:skip=CKV2_AWS_57:MSK SCRAM secrets have no managed rotation function; rotate by putting a new secret version (MSK re-syncs associated secrets) - see terraform/README.md.
  name                    = "AmazonMSK_${local.cluster_name}-iot-bridge"
  description             = "SASL/SCRAM credentials the AWS IoT rule uses to produce to ${var.topic}"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

data "aws_secretsmanager_random_password" "iot_bridge" {
  password_length     = 40
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "iot_bridge" {
  secret_id = aws_secretsmanager_secret.iot_bridge.id
  secret_string = jsonencode({
    username = local.scram_username
    password = data.aws_secretsmanager_random_password.iot_bridge.random_password
  })

  # The data source draws a new password on every plan; the first one stays until rotated.
  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_msk_scram_secret_association" "iot_bridge" {
  cluster_arn     = aws_msk_cluster.this.arn
  secret_arn_list = [aws_secretsmanager_secret.iot_bridge.arn]

  depends_on = [aws_secretsmanager_secret_version.iot_bridge]
}

# ---------------------------------------------------------------------------------------------
# AWS IoT Core: MQTT -> MSK bridge, device policy, role alias for direct-Kafka/S3 credentials
# ---------------------------------------------------------------------------------------------

resource "aws_security_group" "iot_rule" {
  #checkov:skip=CKV2_AWS_5:Attached to the IoT topic rule destination's network interfaces (aws_iot_topic_rule_destination.msk), a connection checkov does not model.
  name        = "${local.cluster_name}-iot-rule"
  description = "hsi IoT rule Kafka action ENIs: SCRAM port of the brokers only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "iot_rule_to_brokers" {
  security_group_id            = aws_security_group.iot_rule.id
  description                  = "To the MSK brokers, SASL/SCRAM over TLS"
  referenced_security_group_id = aws_security_group.brokers.id
  ip_protocol                  = "tcp"
  from_port                    = 9096
  to_port                      = 9096
}

resource "aws_iot_topic_rule_destination" "msk" {
  enabled = true

  vpc_configuration {
    role_arn        = var.iot_rule_role_arn
    security_groups = [aws_security_group.iot_rule.id]
    subnet_ids      = var.subnet_ids
    vpc_id          = var.vpc_id
  }
}

resource "aws_iot_topic_rule" "edge_to_msk" {
  name        = replace("${var.name_prefix}_edge_to_msk", "-", "_")
  description = "hsi: edge MQTT (${var.mqtt_topic_prefix}/{thing}/{cube_id}) -> MSK ${var.topic}"
  enabled     = true
  # The payload is a binary Parquet chunk: SELECT * forwards it untouched.
  sql         = "SELECT * FROM '${var.mqtt_topic_prefix}/+/+'"
  sql_version = "2016-03-23"

  kafka {
    destination_arn = aws_iot_topic_rule_destination.msk.arn
    topic           = var.topic
    # Key = cube_id, as the edge's own producer does: a cube's chunks stay in one partition.
    key = "$${topic(${local.cube_level})}"

    client_properties = {
      "bootstrap.servers"   = aws_msk_cluster.this.bootstrap_brokers_sasl_scram
      "security.protocol"   = "SASL_SSL"
      "sasl.mechanism"      = "SCRAM-SHA-512"
      "sasl.scram.username" = "$${get_secret('${aws_secretsmanager_secret.iot_bridge.arn}', 'SecretString', 'username', '${var.iot_rule_role_arn}')}"
      "sasl.scram.password" = "$${get_secret('${aws_secretsmanager_secret.iot_bridge.arn}', 'SecretString', 'password', '${var.iot_rule_role_arn}')}"
      "acks"                = "all"
      "key.serializer"      = "StringSerializer"
      "value.serializer"    = "ByteBufferSerializer"
    }

    # The same headers the edge's Kafka producer writes (DESIGN §6), from MQTT 5 user properties.
    header {
      key   = "hsi-cube-id"
      value = "$${topic(${local.cube_level})}"
    }
    header {
      key   = "hsi-chunk-index"
      value = "$${get_user_property('hsi-chunk-index')}"
    }
    header {
      key   = "hsi-chunk-count"
      value = "$${get_user_property('hsi-chunk-count')}"
    }
    header {
      key   = "hsi-schema"
      value = "$${get_user_property('hsi-schema')}"
    }
    header {
      key   = "hsi-calibration-version"
      value = "$${get_user_property('hsi-calibration-version')}"
    }
    header {
      key   = "content-type"
      value = "application/vnd.apache.parquet"
    }
    header {
      key   = "hsi-edge-thing"
      value = "$${topic(${local.thing_level})}"
    }
  }

  # MSK unreachable or rejecting: keep the payload instead of dropping it. Replay with
  # `hsi-ingest` or any producer after fixing the cause.
  error_action {
    s3 {
      bucket_name = var.error_bucket_name
      key         = "ingest_errors/iot/$${topic(${local.thing_level})}/$${topic(${local.cube_level})}/$${timestamp()}-$${newuuid()}.parquet"
      role_arn    = var.iot_rule_role_arn
    }
  }

  tags = var.tags
}

# Device policy for edge things (attach it to each device certificate). Every device may only
# connect as its own thing, publish under its own thing name and exchange its certificate for
# the edge publisher role's temporary credentials.
resource "aws_iot_policy" "edge" {
  name = "${var.name_prefix}-edge-publisher"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["iot:Connect"]
        Resource = ["arn:${local.partition}:iot:${local.region}:${local.account_id}:client/$${iot:Connection.Thing.ThingName}"]
        Condition = {
          Bool = { "iot:Connection.Thing.IsAttached" = "true" }
        }
      },
      {
        Effect   = "Allow"
        Action   = ["iot:Publish"]
        Resource = ["arn:${local.partition}:iot:${local.region}:${local.account_id}:topic/${var.mqtt_topic_prefix}/$${iot:Connection.Thing.ThingName}/*"]
      },
      {
        Effect   = "Allow"
        Action   = ["iot:AssumeRoleWithCertificate"]
        Resource = [aws_iot_role_alias.edge.arn]
      },
    ]
  })
  tags = var.tags
}

resource "aws_iot_role_alias" "edge" {
  alias               = "${var.name_prefix}-edge-publisher"
  role_arn            = var.edge_publisher_role_arn
  credential_duration = 3600
  tags                = var.tags
}
