"""Contract tests for terraform/: the promises DESIGN §7 and issue 7 make, asserted on the parsed
HCL (no provider, no cloud account needed).

    python -m unittest discover -s terraform/tests -v      # with python-hcl2 >= 8 installed

scripts/infra_check.sh installs python-hcl2 into a cached venv and runs this file. Without
python-hcl2 the tests print SKIPPED, except when CI is set: then they fail.
"""

from __future__ import annotations

import os
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

try:
    import tfparse
    from tfparse import TF_ROOT, call_arg, expr, list_expr, literal, object_expr
except ImportError as exc:  # python-hcl2 missing
    if os.environ.get("CI"):
        raise
    print(f"SKIPPED: terraform contract tests need python-hcl2 >= 8 ({exc}); run scripts/infra_check.sh")
    raise unittest.SkipTest("python-hcl2 not installed") from exc

MODULES = ["storage", "queue", "dispatcher", "batch", "stream", "catalog", "iam", "observability"]


def blocks(value) -> list[dict]:
    """A nested block is a list of bodies; an absent one is []."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def one(value) -> dict:
    bodies = blocks(value)
    assert len(bodies) == 1, f"expected exactly one block, got {len(bodies)}"
    return bodies[0]


class StorageContract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = tfparse.load_module("storage")

    def raw_lifecycle_rules(self) -> list[dict]:
        lc = self.m.resource("aws_s3_bucket_lifecycle_configuration", "raw")
        self.assertEqual(lc["bucket"], "${aws_s3_bucket.raw.id}")
        return blocks(lc["rule"])

    def test_processed_raw_cubes_tier_to_glacier_ir_then_deep_archive(self):
        rules = [r for r in self.raw_lifecycle_rules() if r.get("transition")]
        self.assertEqual(len(rules), 1, "exactly one raw-bucket rule may move objects")
        rule = rules[0]
        self.assertEqual(rule["status"], "Enabled")

        # Filter: prefix raw_cubes/ AND tag processing_status=complete (both, not either).
        conj = one(one(rule["filter"])["and"])
        self.assertEqual(conj["prefix"], "raw_cubes/")
        self.assertEqual(conj["tags"], {"processing_status": "complete"})

        transitions = sorted((self.m.resolve(t["days"]), t["storage_class"]) for t in blocks(rule["transition"]))
        self.assertEqual(transitions, [(1, "GLACIER_IR"), (365, "DEEP_ARCHIVE")])

        # Raw cubes are the source of truth for reprocessing: never expired by this rule.
        self.assertNotIn("expiration", rule)
        self.assertNotIn("noncurrent_version_transition", rule)

    def test_unprocessed_raw_cubes_stay_in_standard(self):
        # No other rule may transition or expire current objects (untagged/failed cubes must
        # stay in Standard so a retry costs no restore).
        for rule in self.raw_lifecycle_rules():
            if rule.get("transition"):
                continue
            for exp in blocks(rule.get("expiration")):
                self.assertEqual(set(exp), {"expired_object_delete_marker"}, rule["id"])
                self.assertIs(exp["expired_object_delete_marker"], True)

    def test_incomplete_multipart_uploads_are_aborted(self):
        rules = [r for r in self.raw_lifecycle_rules() if r.get("abort_incomplete_multipart_upload")]
        self.assertEqual(len(rules), 1)
        rule = rules[0]
        self.assertEqual(rule["status"], "Enabled")
        # S3 refuses AbortIncompleteMultipartUpload with a tag filter; the rule must cover raw_cubes/.
        filt = one(rule["filter"])
        self.assertNotIn("and", filt)
        self.assertNotIn("tag", filt)
        self.assertTrue("raw_cubes/".startswith(filt.get("prefix", "")))
        days = self.m.resolve(one(rule["abort_incomplete_multipart_upload"])["days_after_initiation"])
        self.assertIsInstance(days, int)
        self.assertGreaterEqual(days, 1)
        self.assertLessEqual(days, 30)

    def test_object_created_notification_for_raw_cubes_goes_to_the_queue(self):
        n = self.m.resource("aws_s3_bucket_notification", "raw")
        self.assertEqual(n["bucket"], "${aws_s3_bucket.raw.id}")
        q = one(n["queue"])
        self.assertEqual(q["events"], ["s3:ObjectCreated:*"])
        self.assertEqual(q["filter_prefix"], "raw_cubes/")
        self.assertEqual(q["queue_arn"], "${var.raw_notification_queue_arn}")
        self.assertEqual(self.m.resolve(q["filter_suffix"]), ".h5")
        self.assertNotIn("lambda_function", n)
        self.assertNotIn("topic", n)

    def test_data_buckets_are_versioned_kms_encrypted_and_private(self):
        buckets = self.m.locals["data_buckets"]
        self.assertEqual(
            buckets,
            {
                "raw": "${aws_s3_bucket.raw.id}",
                "lakehouse": "${aws_s3_bucket.lakehouse.id}",
                "results": "${aws_s3_bucket.query_results.id}",
            },
        )
        for rtype in (
            "aws_s3_bucket_versioning",
            "aws_s3_bucket_server_side_encryption_configuration",
            "aws_s3_bucket_public_access_block",
            "aws_s3_bucket_policy",
            "aws_s3_bucket_ownership_controls",
            "aws_s3_bucket_logging",
        ):
            r = self.m.resource(rtype, "data")
            self.assertEqual(r["for_each"], "${local.data_buckets}", rtype)
            self.assertEqual(r["bucket"], "${each.value}", rtype)

        versioning = one(self.m.resource("aws_s3_bucket_versioning", "data")["versioning_configuration"])
        self.assertEqual(versioning["status"], "Enabled")

        sse = one(one(self.m.resource("aws_s3_bucket_server_side_encryption_configuration", "data")["rule"])["apply_server_side_encryption_by_default"])
        self.assertEqual(sse["sse_algorithm"], "aws:kms")
        self.assertEqual(sse["kms_master_key_id"], "${aws_kms_key.data.arn}")
        self.assertIs(self.m.resource("aws_kms_key", "data")["enable_key_rotation"], True)

        pab = self.m.resource("aws_s3_bucket_public_access_block", "data")
        for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
            self.assertIs(pab[flag], True, flag)

    def test_bucket_policy_denies_requests_without_tls(self):
        policy = self.m.resource("aws_s3_bucket_policy", "data")
        self.assertEqual(policy["policy"], "${data.aws_iam_policy_document.tls_only[each.key].json}")
        doc = self.m.data["aws_iam_policy_document"]["tls_only"]
        self.assertEqual(doc["for_each"], "${local.data_buckets}")
        statements = blocks(doc["statement"])
        self.assertTrue(all(s.get("effect") == "Deny" for s in statements), "the TLS policy only denies")
        insecure = [
            s
            for s in statements
            if any(c["variable"] == "aws:SecureTransport" for c in blocks(s.get("condition")))
        ]
        self.assertEqual(len(insecure), 1)
        s = insecure[0]
        self.assertEqual(s["actions"], ["s3:*"])
        self.assertEqual(one(s["principals"]), {"type": "*", "identifiers": ["*"]})
        cond = one(s["condition"])
        self.assertEqual((cond["test"], cond["values"]), ("Bool", ["false"]))
        self.assertEqual(
            sorted(s["resources"]),
            sorted(["arn:${local.partition}:s3:::${each.value}", "arn:${local.partition}:s3:::${each.value}/*"]),
        )


class QueueContract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = tfparse.load_module("queue")
        cls.env = tfparse.load_environment()

    def test_dlq_redrive_after_max_receive_count(self):
        main = self.m.resource("aws_sqs_queue", "main")
        redrive = object_expr(call_arg(expr(main["redrive_policy"]), "jsonencode"))
        self.assertEqual(redrive["deadLetterTargetArn"], "aws_sqs_queue.dlq.arn")
        self.assertEqual(redrive["maxReceiveCount"], "var.max_receive_count")
        self.assertEqual(self.m.resolve("${var.max_receive_count}"), 5)

        # The example environment passes its own variable, with the same default.
        q = self.env.modules["queue"]
        self.assertEqual(q["max_receive_count"], "${var.max_receive_count}")
        self.assertEqual(self.env.resolve(q["max_receive_count"]), 5)

        # Only the main queue may use the DLQ.
        allow = self.m.resource("aws_sqs_queue_redrive_allow_policy", "dlq")
        policy = object_expr(call_arg(expr(allow["redrive_allow_policy"]), "jsonencode"))
        self.assertEqual(policy["redrivePermission"], '"byQueue"')
        self.assertEqual(list_expr(policy["sourceQueueArns"]), ["aws_sqs_queue.main.arn"])

    def test_dlq_keeps_messages_at_least_as_long_as_the_main_queue(self):
        dlq = self.m.resource("aws_sqs_queue", "dlq")
        main = self.m.resource("aws_sqs_queue", "main")
        self.assertGreaterEqual(
            self.m.resolve(dlq["message_retention_seconds"]), self.m.resolve(main["message_retention_seconds"])
        )
        self.assertEqual(self.m.resolve(dlq["message_retention_seconds"]), 14 * 24 * 3600)

    def test_only_the_raw_bucket_may_send(self):
        doc = self.m.data["aws_iam_policy_document"]["main"]
        statements = blocks(doc["statement"])
        allows = [s for s in statements if s.get("effect", "Allow") == "Allow"]
        self.assertEqual(len(allows), 1)
        allow = allows[0]
        self.assertEqual(allow["actions"], ["sqs:SendMessage"])
        self.assertEqual(one(allow["principals"]), {"type": "Service", "identifiers": ["s3.amazonaws.com"]})
        conds = {(c["test"], c["variable"]): c["values"] for c in blocks(allow["condition"])}
        self.assertEqual(conds[("ArnEquals", "aws:SourceArn")], ["${var.raw_bucket_arn}"])
        self.assertIn(("StringEquals", "aws:SourceAccount"), conds)

        denies = [s for s in statements if s.get("effect") == "Deny" and s["actions"] == ["sqs:SendMessage"]]
        self.assertEqual(len(denies), 1)
        deny_conds = {(c["test"], c["variable"]): c["values"] for c in blocks(denies[0]["condition"])}
        self.assertEqual(deny_conds[("ArnNotEquals", "aws:SourceArn")], ["${var.raw_bucket_arn}"])

        # The environment gives the queue the raw bucket's ARN.
        self.assertEqual(
            self.env.modules["queue"]["raw_bucket_arn"],
            "arn:${data.aws_partition.current.partition}:s3:::${local.raw_bucket_name}",
        )
        self.assertEqual(self.env.modules["storage"]["raw_bucket_name"], "${local.raw_bucket_name}")

    def test_notification_waits_for_the_queue_policy(self):
        out = self.m.outputs["notification_target_arn"]
        self.assertEqual(out["depends_on"], ["${aws_sqs_queue_policy.main}"])
        self.assertEqual(
            self.env.modules["storage"]["raw_notification_queue_arn"], "${module.queue.notification_target_arn}"
        )

    def test_visibility_timeout_fits_the_dispatcher(self):
        self.assertEqual(self.env.locals["queue_visibility_timeout_seconds"], "${6 * var.dispatcher_timeout_seconds}")
        timeout = self.env.resolve("${var.dispatcher_timeout_seconds}")
        visibility = 6 * timeout
        self.assertGreaterEqual(visibility, 6 * timeout)
        self.assertEqual(visibility, 360)
        self.assertEqual(
            self.env.modules["queue"]["visibility_timeout_seconds"], "${local.queue_visibility_timeout_seconds}"
        )
        self.assertEqual(self.env.modules["dispatcher"]["timeout_seconds"], "${var.dispatcher_timeout_seconds}")
        # The dispatcher module refuses a queue whose visibility timeout is too short.
        esm = tfparse.load_module("dispatcher").resource("aws_lambda_event_source_mapping", "raw_cubes")
        pre = one(one(esm["lifecycle"])["precondition"])
        self.assertEqual(pre["condition"], "${var.queue_visibility_timeout_seconds >= 6 * var.timeout_seconds}")


class DispatcherContract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = tfparse.load_module("dispatcher")

    def test_rust_lambda_on_al2023_arm64(self):
        fn = self.m.resource("aws_lambda_function", "dispatcher")
        self.assertEqual(fn["runtime"], "provided.al2023")
        self.assertEqual(fn["architectures"], ["arm64"])
        self.assertEqual(fn["handler"], "bootstrap")
        self.assertEqual(fn["filename"], "${var.package_path}")
        self.assertEqual(fn["source_code_hash"], "${filebase64sha256(var.package_path)}")

    def test_sqs_event_source_batches_200_with_partial_failures(self):
        esm = self.m.resource("aws_lambda_event_source_mapping", "raw_cubes")
        self.assertEqual(esm["event_source_arn"], "${var.queue_arn}")
        self.assertEqual(esm["function_name"], "${aws_lambda_function.dispatcher.arn}")
        self.assertEqual(esm["batch_size"], 200)
        self.assertEqual(esm["function_response_types"], ["ReportBatchItemFailures"])
        window = self.m.resolve(esm["maximum_batching_window_in_seconds"])
        # Lambda requires a batching window for batch sizes above 10.
        self.assertIsInstance(window, int)
        self.assertTrue(1 <= window <= 300, window)
        scaling = one(esm["scaling_config"])
        self.assertGreaterEqual(self.m.resolve(scaling["maximum_concurrency"]), 2)


class BatchContract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = tfparse.load_module("batch")

    def test_spot_compute_environment_price_capacity_optimized(self):
        ce = self.m.resource("aws_batch_compute_environment", "spot")
        self.assertEqual(ce["type"], "MANAGED")
        res = one(ce["compute_resources"])
        self.assertEqual(res["type"], "SPOT")
        self.assertEqual(res["allocation_strategy"], "SPOT_PRICE_CAPACITY_OPTIMIZED")
        self.assertEqual(res["min_vcpus"], 0)
        types = self.m.resolve(res["instance_type"])
        self.assertGreaterEqual(len(types), 4)
        self.assertNotIn("optimal", types)
        # Memory-sized: general-purpose or memory-optimised families only.
        self.assertTrue(all(re.match(r"^[mr]\d", t) for t in types), types)

        queue = self.m.resource("aws_batch_job_queue", "worker")
        order = one(queue["compute_environment_order"])
        self.assertEqual(order["compute_environment"], "${aws_batch_compute_environment.spot.arn}")

    def test_retry_spot_reclaims_and_stop_on_application_errors(self):
        jd = self.m.resource("aws_batch_job_definition", "worker")
        rs = one(jd["retry_strategy"])
        self.assertGreaterEqual(self.m.resolve(rs["attempts"]), 2)
        rules = blocks(rs["evaluate_on_exit"])
        self.assertEqual(len(rules), 3)
        self.assertEqual(rules[0], {"on_status_reason": "Host EC2*", "action": "RETRY"})
        # The worker's "interrupted, retry me" exit code, as the code defines it.
        shutdown = (TF_ROOT.parent / "ingest" / "src" / "shutdown.rs").read_text()
        code = re.search(r"pub const EXIT_INTERRUPTED: u8 = (\d+);", shutdown).group(1)
        self.assertEqual(rules[1], {"on_exit_code": code, "action": "RETRY"})
        self.assertEqual(rules[-1], {"on_reason": "*", "action": "EXIT"})
        retried = [r for r in rules if r["action"].upper() == "RETRY"]
        self.assertEqual(retried, rules[:2], "only host terminations and exit 75 are retried")

    def test_dispatcher_overrides_neither_command_nor_retry_strategy(self):
        # SubmitJob's retryStrategy would replace the rules above, and a command override
        # would contradict the job definition's command.
        runner = (TF_ROOT.parent / "ingest" / "src" / "dispatch" / "runner.rs").read_text()
        self.assertNotIn(".container_overrides(", runner)
        self.assertNotIn(".retry_strategy(", runner)
        self.assertIn('pub const MANIFEST_PARAMETER: &str = "manifest";', runner)

    def test_worker_runs_hsi_ingest_work_on_a_manifest(self):
        jd = self.m.resource("aws_batch_job_definition", "worker")
        props = object_expr(call_arg(expr(jd["container_properties"]), "jsonencode"))
        self.assertEqual(
            [literal(x) for x in list_expr(props["command"])], ["hsi-ingest", "work", "--manifest", "Ref::manifest"]
        )
        self.assertEqual(props["image"], "var.worker_image")
        self.assertEqual(props["jobRoleArn"], "var.job_role_arn")
        self.assertEqual(props["privileged"], "false")
        self.assertEqual(props["readonlyRootFilesystem"], "true")


class StreamContract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = tfparse.load_module("stream")

    def test_msk_iam_auth_and_tls(self):
        msk = self.m.resource("aws_msk_cluster", "this")
        auth = one(msk["client_authentication"])
        self.assertIs(auth["unauthenticated"], False)
        sasl = one(auth["sasl"])
        self.assertIs(sasl["iam"], True)
        enc = one(msk["encryption_info"])
        transit = one(enc["encryption_in_transit"])
        self.assertEqual(transit["client_broker"], "TLS")
        self.assertIs(transit["in_cluster"], True)
        self.assertEqual(enc["encryption_at_rest_kms_key_arn"], "${var.kms_key_arn}")
        public = one(one(one(msk["broker_node_group_info"])["connectivity_info"])["public_access"])
        self.assertEqual(public["type"], "DISABLED")
        config = self.m.resource("aws_msk_configuration", "this")["server_properties"]
        self.assertIn("auto.create.topics.enable=false", config)
        self.assertIn("min.insync.replicas=2", config)

    def test_topics_are_documented(self):
        self.assertEqual(self.m.resolve("${var.topic}"), "hsi.silver.v1")
        self.assertEqual(self.m.resolve("${var.dlq_topic}"), "hsi.silver.v1.dlq")
        topics = self.m.locals["topics"]
        self.assertEqual(set(topics), {"${(var.topic)}", "${(var.dlq_topic)}"})  # keys are expressions
        for settings in topics.values():
            self.assertEqual(settings["replication_factor"], 3)
            self.assertEqual(settings["config"]["min.insync.replicas"], "2")
            self.assertIn("retention.ms", settings["config"])
        readme = (TF_ROOT / "README.md").read_text(encoding="utf-8")
        for name in ("hsi.silver.v1", "hsi.silver.v1.dlq", "min.insync.replicas", "retention.ms"):
            self.assertIn(name, readme)

    def test_iot_rule_bridges_mqtt_to_the_silver_topic(self):
        rule = self.m.resource("aws_iot_topic_rule", "edge_to_msk")
        self.assertIs(rule["enabled"], True)
        self.assertEqual(rule["sql"], "SELECT * FROM '${var.mqtt_topic_prefix}/+/+'")
        kafka = one(rule["kafka"])
        self.assertEqual(kafka["topic"], "${var.topic}")
        self.assertEqual(kafka["destination_arn"], "${aws_iot_topic_rule_destination.msk.arn}")
        # Key = cube_id (the last MQTT topic level), like the edge's own producer.
        self.assertEqual(kafka["key"], "$${topic(${local.cube_level})}")
        props = kafka["client_properties"]
        self.assertEqual(props["security.protocol"], "SASL_SSL")
        self.assertEqual(props["acks"], "all")
        headers = {h["key"] for h in blocks(kafka["header"])}
        self.assertLessEqual(
            {"hsi-cube-id", "hsi-chunk-index", "hsi-chunk-count", "hsi-schema", "hsi-calibration-version", "content-type"},
            headers,
        )
        # Undeliverable payloads are kept, not dropped.
        s3 = one(one(rule["error_action"])["s3"])
        self.assertTrue(s3["key"].startswith("ingest_errors/iot/"))


class CatalogContract(unittest.TestCase):
    def test_glue_databases_and_trino_based_athena_workgroup(self):
        m = tfparse.load_module("catalog")
        self.assertEqual(
            m.resolve("${var.namespaces}"), ["bronze", "silver", "gold", "ref", "ops"], "hsi_lakehouse::table::NAMESPACES"
        )
        db = m.resource("aws_glue_catalog_database", "namespace")
        self.assertEqual(db["for_each"], "${toset(var.namespaces)}")
        self.assertEqual(db["location_uri"], "s3://${var.lakehouse_bucket_name}/${var.warehouse_prefix}/${each.value}")
        wg = one(m.resource("aws_athena_workgroup", "analysts")["configuration"])
        self.assertEqual(one(wg["engine_version"])["selected_engine_version"], "Athena engine version 3")
        self.assertIs(wg["enforce_workgroup_configuration"], True)
        res = one(wg["result_configuration"])
        self.assertEqual(one(res["encryption_configuration"])["encryption_option"], "SSE_KMS")
        self.assertEqual(res["output_location"], "s3://${var.query_results_bucket_name}/athena/")


# Actions that support no resource-level permissions: the only ones allowed on Resource "*".
RESOURCE_STAR_ALLOWED = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "ecr:GetAuthorizationToken",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "ec2:DescribeSecurityGroups",
}


def policy_statements():
    """(module, document, statement) for every aws_iam_policy_document, dynamic ones included."""
    for name in MODULES:
        m = tfparse.load_module(name)
        for doc_name, doc in m.data.get("aws_iam_policy_document", {}).items():
            for s in blocks(doc.get("statement")):
                yield name, doc_name, s
            for dyn in blocks(doc.get("dynamic")):
                for s in blocks(dyn.get("statement", {}).get("content")):
                    yield name, doc_name, s


class IamContract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = tfparse.load_module("iam")

    def test_one_role_per_component(self):
        roles = self.m.resources["aws_iam_role"]
        for component in ("edge_publisher", "dispatcher", "worker", "stream_consumer", "analyst"):
            self.assertIn(component, roles)
            self.assertIn("${aws_iam_role.%s.arn}" % component, self.m.outputs[f"{component}_role_arn"]["value"])

    def test_no_wildcard_actions_in_allow_statements(self):
        checked = 0
        for module, doc, s in policy_statements():
            if s.get("effect", "Allow") != "Allow" or doc == "data_key":
                continue  # deny statements may be broad; the key policy is a resource policy
            checked += 1
            for action in s.get("actions", []):
                self.assertNotIn("*", action, f"{module}/{doc}/{s.get('sid')}: wildcard action {action}")
            self.assertNotIn("not_actions", s, f"{module}/{doc}/{s.get('sid')}")
        self.assertGreater(checked, 30)

    def test_resource_star_only_for_unscopable_actions(self):
        for module, doc, s in policy_statements():
            if s.get("effect", "Allow") != "Allow" or doc == "data_key":
                continue
            if "*" in s.get("resources", []):
                extra = set(s["actions"]) - RESOURCE_STAR_ALLOWED
                self.assertFalse(extra, f"{module}/{doc}/{s.get('sid')}: {sorted(extra)} on Resource *")

    def test_bucket_grants_are_scoped_to_prefixes(self):
        # Object permissions name a prefix (raw_cubes/, manifests/, warehouse/, ...), never BUCKET/*.
        for module, doc, s in policy_statements():
            if s.get("effect", "Allow") != "Allow":
                continue
            for r in s.get("resources", []):
                self.assertIsNone(
                    re.search(r"bucket_arn\}/\*$", r), f"{module}/{doc}/{s.get('sid')}: whole-bucket grant {r}"
                )

    def test_edge_publisher_can_upload_but_not_read_tag_or_delete(self):
        actions = {
            a
            for s in blocks(self.m.data["aws_iam_policy_document"]["edge_publisher"]["statement"])
            for a in s["actions"]
        }
        self.assertIn("s3:PutObject", actions)
        self.assertIn("kafka-cluster:WriteData", actions)
        for forbidden in ("s3:GetObject", "s3:PutObjectTagging", "s3:DeleteObject", "kafka-cluster:ReadData"):
            self.assertNotIn(forbidden, actions)

    def test_worker_may_only_set_the_processing_status_tag(self):
        statements = blocks(self.m.data["aws_iam_policy_document"]["worker"]["statement"])
        tagging = [s for s in statements if "s3:PutObjectTagging" in s["actions"]]
        self.assertEqual(len(tagging), 1)
        self.assertEqual(tagging[0]["resources"], ["${var.raw_bucket_arn}/raw_cubes/*"])
        cond = one(tagging[0]["condition"])
        self.assertEqual(
            (cond["test"], cond["variable"], cond["values"]),
            ("ForAllValues:StringEquals", "s3:RequestObjectTagKeys", ["processing_status"]),
        )

    def test_worker_may_write_quarantine_records_where_the_code_puts_them(self):
        # The worker writes `{quarantine_prefix}{raw key}.error.json` into the raw bucket; the
        # prefix's default comes from the code, and nothing else in the raw bucket is writable.
        config = (TF_ROOT.parent / "ingest" / "src" / "worker" / "config.rs").read_text()
        prefix = re.search(r'fn default_quarantine_prefix\(\) -> String \{\s*"([^"]+)"', config).group(1)
        statements = blocks(self.m.data["aws_iam_policy_document"]["worker"]["statement"])
        puts = [s for s in statements if "s3:PutObject" in s["actions"] and any("raw_bucket" in r for r in s["resources"])]
        self.assertEqual(len(puts), 1, puts)
        self.assertEqual(puts[0]["resources"], [f"${{var.raw_bucket_arn}}/{prefix}*"])
        self.assertFalse(prefix.startswith("raw_cubes/"), "records must not raise S3 events")


class ObservabilityContract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = tfparse.load_module("observability")
        cls.alarms = cls.m.resources["aws_cloudwatch_metric_alarm"]

    def alarm(self, namespace: str, metric: str) -> dict:
        found = [a for a in self.alarms.values() if (a["namespace"], a["metric_name"]) == (namespace, metric)]
        self.assertEqual(len(found), 1, f"{namespace}/{metric}")
        a = found[0]
        self.assertEqual(a["alarm_actions"], "${local.alarm_actions}")
        return a

    def test_dlq_depth(self):
        a = self.alarm("AWS/SQS", "ApproximateNumberOfMessagesVisible")
        self.assertEqual(a["dimensions"], {"QueueName": "${var.dlq_name}"})
        self.assertEqual((a["comparison_operator"], a["threshold"]), ("GreaterThanThreshold", 0))

    def test_oldest_message_age(self):
        a = self.alarm("AWS/SQS", "ApproximateAgeOfOldestMessage")
        self.assertEqual(a["dimensions"], {"QueueName": "${var.queue_name}"})
        self.assertLess(self.m.resolve(a["threshold"]), 14 * 24 * 3600)

    def test_batch_failed_jobs(self):
        a = self.alarm("HSI/Batch", "FailedJobs")
        self.assertEqual((a["comparison_operator"], a["threshold"]), ("GreaterThanThreshold", 0))
        mf = self.m.resource("aws_cloudwatch_log_metric_filter", "batch_failed")
        mt = one(mf["metric_transformation"])
        self.assertEqual((mt["namespace"], mt["name"]), ("HSI/Batch", "FailedJobs"))
        rule = self.m.resource("aws_cloudwatch_event_rule", "batch_failed")
        pattern = object_expr(call_arg(expr(rule["event_pattern"]), "jsonencode"))
        self.assertEqual(list_expr(pattern["source"]), ['"aws.batch"'])
        detail = object_expr(pattern["detail"])
        self.assertEqual(list_expr(detail["status"]), ['"FAILED"'])
        self.assertEqual(list_expr(detail["jobQueue"]), ["var.job_queue_arn"])

    def test_stream_lag(self):
        a = self.alarm("AWS/Kafka", "EstimatedMaxTimeLag")
        self.assertEqual(
            a["dimensions"],
            {
                "Cluster Name": "${var.msk_cluster_name}",
                "Consumer Group": "${var.stream_consumer_group}",
                "Topic": "${var.stream_topic}",
            },
        )


class LayoutContract(unittest.TestCase):
    def test_every_module_has_variables_and_outputs_documented(self):
        for name in MODULES:
            d = TF_ROOT / "modules" / name
            for f in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
                self.assertTrue((d / f).is_file(), f"modules/{name}/{f}")
            m = tfparse.load_module(name)
            self.assertTrue(m.variables and m.outputs, name)
            for var, body in m.variables.items():
                self.assertTrue(body.get("description"), f"{name}: variable {var} lacks a description")
                self.assertIn("type", body, f"{name}: variable {var} lacks a type")
            for out, body in m.outputs.items():
                self.assertTrue(body.get("description"), f"{name}: output {out} lacks a description")

    def test_example_environment_wires_every_module(self):
        env = tfparse.load_environment()
        self.assertEqual({b["source"] for b in env.modules.values()}, {f"../../modules/{m}" for m in MODULES})
        tfvars = tfparse.parse_file(TF_ROOT / "environments" / "example" / "terraform.tfvars.example")
        required = {v for v, body in env.variables.items() if "default" not in body}
        self.assertFalse(required - set(tfvars), f"terraform.tfvars.example misses {required - set(tfvars)}")
        self.assertFalse(set(tfvars) - set(env.variables), "terraform.tfvars.example sets undeclared variables")

    def test_every_checkov_skip_is_justified(self):
        skips = 0
        for path in TF_ROOT.rglob("*.tf"):
            for line in path.read_text(encoding="utf-8").splitlines():
                if "checkov:skip" not in line:
                    continue
                skips += 1
                m = re.search(r"#checkov:skip=(CKV2?_AWS_\d+):(.*)$", line)
                self.assertIsNotNone(m, f"{path.name}: malformed skip {line.strip()}")
                self.assertGreaterEqual(len(m.group(2).strip()), 30, f"{path.name}: {m.group(1)} needs a real reason")
        self.assertGreater(skips, 0)


if __name__ == "__main__":
    unittest.main()
