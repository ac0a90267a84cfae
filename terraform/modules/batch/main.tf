# Batch: Spot compute environment (price-capacity-optimized), job queue and the worker job
# definition. The worker (`hsi-ingest work --manifest s3://...`) skips cubes bronze.cubes
# already holds, so a retried attempt only redoes the cube that was in flight.

data "aws_region" "current" {}

# The instance types' real sizes, to check at plan time that one job fits the smallest of them
# (a job that fits no instance type stays RUNNABLE forever).
data "aws_ec2_instance_type" "worker" {
  for_each      = toset(var.instance_types)
  instance_type = each.value
}

locals {
  name = "${var.name_prefix}-worker"

  # Memory the ECS agent can hand to containers is a bit below the instance size.
  types_too_small = [
    for t, d in data.aws_ec2_instance_type.worker : t
    if floor(d.memory_size * 0.9) < var.job_memory_mib || d.default_vcpus < var.job_vcpus
  ]
}

resource "aws_cloudwatch_log_group" "worker" {
  name              = "/aws/batch/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_security_group" "worker" {
  name        = "${local.name}-instances"
  description = "hsi Batch workers: HTTPS egress only (S3, ECR, Glue, KMS, Logs), no ingress"
  vpc_id      = var.vpc_id
  tags        = var.tags

  egress {
    description = "HTTPS to AWS APIs via NAT or VPC endpoints"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_launch_template" "worker" {
  name_prefix = "${local.name}-"
  description = "hsi Batch workers: IMDSv2 only, encrypted gp3 root volume for the job scratch space"

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
    # 1 hop: containers (one more hop behind the Docker bridge) cannot reach IMDS and so cannot
    # borrow the instance role. The worker gets its job role from the ECS credentials endpoint
    # and its region from AWS_REGION; the ECS agent runs in the host network.
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = var.root_volume_gib
      volume_type           = "gp3"
      encrypted             = true # account's aws/ebs key: no key-policy grants for the Spot service roles
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = local.name })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(var.tags, { Name = local.name })
  }

  tags = var.tags
}

resource "aws_batch_compute_environment" "spot" {
  compute_environment_name_prefix = "${local.name}-spot-"
  type                            = "MANAGED"
  state                           = "ENABLED"
  # service_role omitted: Batch uses its service-linked role AWSServiceRoleForBatch.

  compute_resources {
    type                = "SPOT"
    allocation_strategy = "SPOT_PRICE_CAPACITY_OPTIMIZED"
    bid_percentage      = 100 # pay at most the On-Demand price; the strategy picks cheap, deep pools
    min_vcpus           = 0   # scale to zero in winter
    max_vcpus           = var.max_vcpus
    instance_type       = var.instance_types
    instance_role       = var.instance_profile_arn
    subnets             = var.subnet_ids
    security_group_ids  = [aws_security_group.worker.id]

    ec2_configuration {
      image_type = "ECS_AL2023"
    }

    launch_template {
      launch_template_id = aws_launch_template.worker.id
      version            = aws_launch_template.worker.latest_version
    }

    tags = merge(var.tags, { Name = local.name })
  }

  update_policy {
    job_execution_timeout_minutes = 30
    terminate_jobs_on_update      = false
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
    ignore_changes        = [compute_resources[0].desired_vcpus]

    precondition {
      condition     = length(local.types_too_small) == 0
      error_message = "These instance types cannot run one worker job (job_vcpus/job_memory_mib): ${join(", ", local.types_too_small)}."
    }
  }
}

resource "aws_batch_job_queue" "worker" {
  name     = local.name
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.spot.arn
  }

  tags = var.tags
}

resource "aws_batch_job_definition" "worker" {
  name                  = local.name
  type                  = "container"
  platform_capabilities = ["EC2"]
  propagate_tags        = true

  container_properties = jsonencode({
    image            = var.worker_image
    command          = ["hsi-ingest", "work", "--manifest", "Ref::manifest"]
    jobRoleArn       = var.job_role_arn
    executionRoleArn = var.execution_role_arn

    resourceRequirements = [
      { type = "VCPU", value = tostring(var.job_vcpus) },
      { type = "MEMORY", value = tostring(var.job_memory_mib) },
    ]

    environment = [for k, v in merge({
      # The image ships the worker's config (docs/ingest.example.toml) at this path; the
      # HSI_INGEST__SECTION__KEY variables override single keys of it.
      HSI_INGEST_CONFIG                = "/etc/hsi/ingest.toml"
      HSI_INGEST__LAKEHOUSE__WAREHOUSE = var.warehouse_uri
      HSI_INGEST__WORKER__SCRATCH_DIR  = "/scratch"
      HSI_INGEST__WORKER__BRONZE_URI   = "${var.warehouse_uri}/bronze_zarr/"
      AWS_REGION                       = data.aws_region.current.name
      TMPDIR                           = "/scratch"
      RUST_LOG                         = "info"
    }, var.extra_environment) : { name = k, value = v }]

    # Read-only image; the cube being processed and its outputs go to a per-job Docker volume
    # (no sourcePath: created for the job, removed with it).
    readonlyRootFilesystem = true
    privileged             = false
    volumes                = [{ name = "scratch" }]
    mountPoints            = [{ sourceVolume = "scratch", containerPath = "/scratch", readOnly = false }]

    # An init process forwards SIGTERM (Spot interruption) to the worker, which commits the
    # cubes it finished and exits non-zero; the retry skips them.
    linuxParameters = { initProcessEnabled = true }

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.worker.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "worker"
      }
    }
  })

  # Retry Spot reclaims and interrupted workers, stop on application errors. Rules are
  # evaluated in order; Batch reports a reclaimed (or otherwise terminated) host as
  # "Host EC2 (instance i-...) terminated.", and the worker exits 75 (EX_TEMPFAIL,
  # ingest/src/shutdown.rs) when SIGTERM stopped it at a cube boundary or a transient error
  # outlasted its retries. The dispatcher's SubmitJob overrides neither the command nor this
  # strategy (ingest/src/dispatch/runner.rs).
  retry_strategy {
    attempts = var.retry_attempts

    evaluate_on_exit {
      on_status_reason = "Host EC2*"
      action           = "RETRY"
    }

    evaluate_on_exit {
      on_exit_code = "75"
      action       = "RETRY"
    }

    evaluate_on_exit {
      on_reason = "*"
      action    = "EXIT"
    }
  }

  timeout {
    attempt_duration_seconds = var.attempt_timeout_seconds
  }

  tags = var.tags
}
