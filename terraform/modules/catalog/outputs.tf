output "database_names" {
  description = "Glue databases, one per Iceberg namespace."
  value       = [for ns in var.namespaces : aws_glue_catalog_database.namespace[ns].name]
}

output "database_arns" {
  description = "ARNs of the Glue databases."
  value       = [for ns in var.namespaces : aws_glue_catalog_database.namespace[ns].arn]
}

output "athena_workgroup_name" {
  description = "Athena workgroup for analysts."
  value       = aws_athena_workgroup.analysts.name
}

output "athena_workgroup_arn" {
  description = "ARN of the Athena workgroup."
  value       = aws_athena_workgroup.analysts.arn
}
