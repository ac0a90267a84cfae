terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.50.0, < 6.0.0"
    }
  }

  # Remote state: S3 with a lock. Partial configuration, completed at init time:
  #   tofu init -backend-config=backend.hcl
  # with backend.hcl holding bucket, key, region, dynamodb_table (or use_lockfile) and encrypt = true.
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
      Repository  = "hsi/terraform/environments/example"
    }
  }
}
